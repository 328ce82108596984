"""Stand-ins for Stripe that the real SDK talks to over loopback HTTP.

- ``localstripe`` (PyPI), a stateful fake Stripe server, started once per test session
  as a subprocess on a free loopback port, in memory only. It covers PaymentMethods,
  PaymentIntents (declines, 3-D Secure), Refunds and signed webhook delivery.
- ``StripeProxy``, the thin adapter the SDK is pointed at (``STRIPE_API_BASE``). It
  records what the SDK sent, drops the parameters localstripe rejects, replays the
  first answer for a repeated ``Idempotency-Key`` (localstripe ignores the header, Stripe
  does not), and routes ``/v1/accounts`` and ``/v1/transfers`` to ``ConnectFake``,
  because localstripe has no Connect.
- ``ConnectFake``, a small in-memory ``/v1/accounts`` and ``/v1/transfers`` that refuses
  what Stripe would refuse (no idempotency key, no destination, no transfer group) and
  replays the first response for a repeated key. It can also serve canned answers for
  other paths, for Stripe behaviour localstripe does not imitate.
- ``WebhookReceiver``, the loopback URL localstripe delivers signed events to.

Without localstripe installed the tests that need it skip, except in CI (``CI=true``),
where they fail: a missing test server must never look like a green run.
"""

import hashlib
import http.client
import importlib.util
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET_KEY = "sk_test_greenround"
TEST_WEBHOOK_SECRET = "whsec_greenround_tests"

#: Parameters Stripe accepts and localstripe answers with "400 Unexpected …", by path.
LOCALSTRIPE_REJECTS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"^/v1/payment_intents(/[^/]+/confirm)?$"),
     frozenset({"return_url", "description", "transfer_group", "automatic_payment_methods",
                "receipt_email", "statement_descriptor_suffix", "use_stripe_sdk"})),
    (re.compile(r"^/v1/refunds$"), frozenset({"reason", "description", "instructions_email"})),
]
CONNECT_PATHS = re.compile(r"^/v1/(accounts|transfers)(/|$)")

#: Runs localstripe's aiohttp app on 127.0.0.1 only, and never writes its store to
#: /tmp/localstripe.pickle (which it does after every write, and shares between runs).
LAUNCHER = """
import sys
from aiohttp import web
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- Requests as the fakes see them -------------------------------------------------------


@dataclass
class Seen:
    """One request the SDK made, decoded."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    pairs: list[tuple[str, str]]  # the form fields, as sent
    params: dict[str, Any]  # the same, nested: metadata[pledge_id] → {"metadata": {"pledge_id": …}}


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][c]=v``) back into nested dicts."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        target = params
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return params


def top_name(key: str) -> str:
    return key.split("[", 1)[0]


class IdempotencyCache:
    """Stripe's rule: the first answer for a key is the answer; another body with it is an error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[str, int, bytes]] = {}
        self.replays = 0

    def answer(self, key: str, fingerprint: str, compute: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        with self._lock:
            if key in self._answers:
                first_fingerprint, status, body = self._answers[key]
                if first_fingerprint != fingerprint:
                    return 400, error_body("idempotency_error", "Keys for idempotent requests can only be used "
                                           "with the same parameters they were first used with.")
                self.replays += 1
                return status, body
            status, body = compute()
            # Stripe saves an answer once the endpoint ran; not a validation error or an outage.
            if status < 500 and status != 400:
                self._answers[key] = (fingerprint, status, body)
            return status, body


def fingerprint(method: str, path: str, pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(f"{method} {path} {sorted(pairs)}".encode()).hexdigest()


def error_body(kind: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message, **extra}}).encode()


# -- A tiny loopback HTTP server ----------------------------------------------------------


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 whose subclasses answer ``handle``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, content_type, answer = owner.handle(self.command, self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Request-Id", "req_loopback")
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815  (http.server's names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def decode(method: str, target: str, headers: dict[str, str], body: bytes) -> Seen:
    split = urlsplit(target)
    raw = body.decode() if method == "POST" else split.query
    pairs = parse_qsl(raw, keep_blank_values=True)
    return Seen(method, split.path, headers, pairs, nest(pairs))


# -- Connect: /v1/accounts and /v1/transfers ------------------------------------------------


@dataclass
class Canned:
    status: int
    body: dict[str, Any]
    times: int = 1


class ConnectFake(LoopbackServer):
    """Accounts and transfers in memory, checked the way Stripe checks them."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.accounts: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.canned: dict[tuple[str, str], list[Canned]] = {}
        self.idempotency = IdempotencyCache()
        self._ids = itertools.count(1)
        super().__init__()

    def reply(self, method: str, path: str, status: int, body: dict[str, Any], times: int = 1) -> None:
        """Answer the next ``times`` requests for ``method path`` with a canned response."""
        self.canned.setdefault((method, path), []).append(Canned(status, body, times))

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        seen = decode(method, target, headers, body)
        self.seen.append(seen)
        status, answer = self.answer(seen)
        return status, "application/json", answer

    def answer(self, seen: Seen) -> tuple[int, bytes]:
        if not seen.headers.get("authorization", "").startswith("Bearer sk_"):
            return 401, error_body("invalid_request_error", "Invalid API Key provided")
        queue = self.canned.get((seen.method, seen.path))
        if queue:
            canned = queue[0]
            canned.times -= 1
            if canned.times <= 0:
                queue.pop(0)
            return canned.status, json.dumps(canned.body).encode()
        if seen.method == "POST":
            key = seen.headers.get("idempotency-key")
            if not key:
                return 400, error_body("invalid_request_error", "ConnectFake: every POST needs an Idempotency-Key")
            return self.idempotency.answer(key, fingerprint(seen.method, seen.path, seen.pairs),
                                           lambda: self._create(seen))
        match = re.fullmatch(r"/v1/(accounts|transfers)/([\w-]+)", seen.path)
        if seen.method == "GET" and match:
            store = self.accounts if match[1] == "accounts" else self.transfers
            if match[2] in store:
                return 200, json.dumps(store[match[2]]).encode()
        return 404, error_body("invalid_request_error", f"ConnectFake: no route {seen.method} {seen.path}")

    def _create(self, seen: Seen) -> tuple[int, bytes]:
        p = seen.params
        if seen.path == "/v1/accounts":
            if p.get("type") != "express" or not re.fullmatch(r"[A-Z]{2}", p.get("country", "")):
                return 400, error_body("invalid_request_error", "type=express and a country are required",
                                       param="type")
            account = {"id": f"acct_fake{next(self._ids):04d}", "object": "account", "type": "express",
                       "country": p["country"], "email": p.get("email"), "charges_enabled": False,
                       "payouts_enabled": False, "details_submitted": False,
                       "capabilities": {name: "inactive" for name in p.get("capabilities", {})},
                       "metadata": p.get("metadata", {})}
            self.accounts[account["id"]] = account
            return 200, json.dumps(account).encode()
        if seen.path == "/v1/transfers":
            amount = p.get("amount", "")
            if not amount.isdigit() or int(amount) <= 0:
                return 400, error_body("invalid_request_error", "Invalid positive integer", param="amount")
            if not re.fullmatch(r"[a-z]{3}", p.get("currency", "")):
                return 400, error_body("invalid_request_error", "Invalid currency", param="currency")
            if p.get("destination") not in self.accounts:
                return 400, error_body("invalid_request_error", f"No such destination: '{p.get('destination')}'",
                                       param="destination", code="resource_missing")
            if not p.get("transfer_group"):
                return 400, error_body("invalid_request_error", "ConnectFake: payouts must name their transfer_group")
            transfer = {"id": f"tr_fake{next(self._ids):04d}", "object": "transfer", "amount": int(amount),
                        "currency": p["currency"], "destination": p["destination"],
                        "transfer_group": p["transfer_group"], "metadata": p.get("metadata", {}),
                        "reversed": False, "amount_reversed": 0}
            self.transfers[transfer["id"]] = transfer
            return 200, json.dumps(transfer).encode()
        return 404, error_body("invalid_request_error", f"ConnectFake: no route POST {seen.path}")


# -- The adapter in front of localstripe ---------------------------------------------------


class StripeProxy(LoopbackServer):
    """What the SDK is pointed at: records, strips, replays idempotent POSTs, routes Connect."""

    def __init__(self, localstripe_url: str, connect: ConnectFake) -> None:
        self.localstripe = urlsplit(localstripe_url)
        self.connect = connect
        self.seen: list[Seen] = []
        self.forwarded: list[Seen] = []
        self.idempotency = IdempotencyCache()
        super().__init__()

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        seen = decode(method, target, headers, body)
        self.seen.append(seen)
        if CONNECT_PATHS.match(seen.path):
            return self.connect.handle(method, target, headers, body)
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            status, answer = self.idempotency.answer(key, fingerprint(method, seen.path, seen.pairs),
                                                     lambda: self._forward(seen))
        else:
            status, answer = self._forward(seen)
        return status, "application/json", answer

    def _forward(self, seen: Seen) -> tuple[int, bytes]:
        rejected = frozenset().union(*(names for pattern, names in LOCALSTRIPE_REJECTS if pattern.match(seen.path)))
        pairs = [(k, v) for k, v in seen.pairs if top_name(k) not in rejected]
        self.forwarded.append(Seen(seen.method, seen.path, seen.headers, pairs, nest(pairs)))
        body = urlencode(pairs).encode() if seen.method == "POST" else None
        target = seen.path if seen.method == "POST" or not pairs else f"{seen.path}?{urlencode(pairs)}"
        conn = http.client.HTTPConnection(self.localstripe.hostname, self.localstripe.port, timeout=15)
        try:
            conn.request(seen.method, target, body=body, headers={
                "Authorization": seen.headers.get("authorization", ""),
                "Content-Type": "application/x-www-form-urlencoded",
            })
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


# -- Webhook delivery ------------------------------------------------------------------------


@dataclass
class Delivery:
    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver(LoopbackServer):
    """Where localstripe posts signed events; tests wait for the one they expect."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._arrived = threading.Condition()
        super().__init__()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        with self._arrived:
            self.deliveries.append(Delivery(body, headers.get("stripe-signature", "")))
            self._arrived.notify_all()
        return 200, "application/json", b"{}"

    def wait_for(self, event_type: str, object_id: str, timeout: float = 10) -> Delivery:
        def found() -> Delivery | None:
            for delivery in self.deliveries:
                event = delivery.event
                if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                    return delivery
            return None

        with self._arrived:
            if not self._arrived.wait_for(found, timeout):
                raise AssertionError(f"localstripe delivered no {event_type} for {object_id} in {timeout} s")
            return found()


# -- localstripe itself ----------------------------------------------------------------------


class LocalStripe:
    """A running localstripe and the test-only calls Stripe.js or the dashboard would make."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        split = urlsplit(self.url)
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        try:
            conn.request(method, path, body=urlencode(flat(params or {})), headers={
                "Authorization": f"Bearer {TEST_SECRET_KEY}",
                "Content-Type": "application/x-www-form-urlencoded",
            })
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status >= 300:
            raise AssertionError(f"localstripe {method} {path}: {response.status} {payload!r}")
        return json.loads(payload) if payload.strip() else {}

    def card(self, number: str) -> str:
        """A PaymentMethod for a test card number (Stripe.js does this in a browser)."""
        return self.call("POST", "/v1/payment_methods", {
            "type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
        })["id"]

    def authenticate(self, payment_intent: str, *, success: bool = True) -> None:
        """Pass (or fail) 3-D Secure, as the investor does on the bank's page."""
        secret = self.call("GET", f"/v1/payment_intents/{payment_intent}")["client_secret"]
        self.call("POST", f"/v1/payment_intents/{payment_intent}/_authenticate",
                  {"client_secret": secret, "success": "true" if success else "false"})

    def deliver_webhooks_to(self, url: str, secret: str) -> None:
        self.call("POST", "/_config/webhooks/greenround-tests", {"url": url, "secret": secret})


def flat(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(flat(value, name))
        else:
            pairs.append((name, str(value)))
    return pairs


def require_localstripe() -> None:
    if importlib.util.find_spec("localstripe") is None:
        message = "localstripe is not installed (pip install -r requirements-dev.txt)"
        if IN_CI:
            pytest.fail(f"CI=true: the stripe tests must run; {message}")
        pytest.skip(message)


def start_localstripe(log_path: Path, timeout: float = 20) -> LocalStripe:
    port = free_port()
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(port)], stdout=log,
                                   stderr=subprocess.STDOUT)
    server = LocalStripe(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            server.call("GET", "/v1/balance")
            return server
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"localstripe did not answer on port {port} within {timeout} s:\n{log_path.read_text()}")
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- Fixtures (import them into a test module) ----------------------------------------------


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """One localstripe per session; tests never share objects, so its state needs no reset."""
    require_localstripe()
    server = start_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def webhook_receiver(localstripe: LocalStripe) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    localstripe.deliver_webhooks_to(receiver.url, TEST_WEBHOOK_SECRET)
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def connect_fake() -> Iterator[ConnectFake]:
    fake = ConnectFake()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def stripe_proxy(localstripe: LocalStripe, connect_fake: ConnectFake) -> Iterator[StripeProxy]:
    proxy = StripeProxy(localstripe.url, connect_fake)
    try:
        yield proxy
    finally:
        proxy.close()


def stripe_config(api_base: str, **overrides: Any) -> dict[str, Any]:
    """The settings ``StripeGateway.from_config`` reads, pointed at a loopback server."""
    from config import Config

    return {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        "STRIPE_API_BASE": api_base,
        "STRIPE_API_VERSION": Config.STRIPE_API_VERSION,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_SECONDS": 10,
        **overrides,
    }
