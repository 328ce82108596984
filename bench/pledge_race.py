"""Pledge race benchmark: gunicorn on PostgreSQL, concurrent clients fill one round.

It creates a scratch PostgreSQL database, migrates it, seeds ready investors and one
live campaign with room for exactly ``--pledges`` equal pledges, starts gunicorn
(``--workers``, production config, sandbox gateway), and then, in the same run:

1. measures the server's ``GET /healthz`` rate with ``--clients`` concurrent clients;
2. lets the same number of clients pledge (``POST /api/v1/campaigns/<id>/pledges``,
   each request with its own bearer token and its own Idempotency-Key) until the round
   answers 409 (full);
3. measures ``/healthz`` again, and prints committed pledges per second, the two
   healthz rates and the ratio of the pledge rate to their mean.

The load comes from ``wrk`` (``--client wrk``, the default; ``bench/pledge.lua`` reads the
tokens the script writes up front, and ``bench/latency.lua`` times /healthz) or from
Python client threads (``--client python``, the original driver, whose own CPU use on a
small machine caps the rates it can see); ``--client both`` runs both, each on a round of
its own, for one comparison. wrk: ``apt-get install -y wrk``.

It fails (exit 1) if the round is ever over its maximum, if the number of paid pledges is
not exactly the room, or if the ledger does not balance. The target in issue 5 is a ratio
of at least 0.2.

    .venv/bin/python bench/pledge_race.py
    .venv/bin/python bench/pledge_race.py --pledges 1000 --clients 32 --workers 4
    .venv/bin/python bench/pledge_race.py --client both
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402

BENCH = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1/test"),
                        help="a PostgreSQL URL the scratch database is created from (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--pledges", type=int, default=1500,
                        help="room in the round, in equal pledges (default: %(default)s)")
    parser.add_argument("--amount", type=int, default=100_00, help="each pledge, in cents (default: %(default)s)")
    parser.add_argument("--healthz-seconds", type=float, default=5.0,
                        help="how long each /healthz measurement runs (default: %(default)s)")
    parser.add_argument("--client", choices=("wrk", "python", "both"), default="wrk",
                        help="what drives the load (default: %(default)s; both = one round each, compared)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the database ------------------------------------------------------------------------------


def seed(url: str, *, investors: int, pledges: int, amount: int, secret_key: str, rounds: int = 1,
         tokens_wanted: int = 0) -> tuple[list[int], list[str]]:
    """Migrate, then add ready investors and ``rounds`` live campaigns; returns the campaign
    ids and ``tokens_wanted`` distinct bearer tokens spread round-robin over the investors
    (tokens differ by their expiry second), so every request can carry a token of its own."""
    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    from app import create_app
    from app.accounts.models import User, UserRole
    from app.accounts.tokens import issue_token
    from app.campaigns.models import Campaign, CampaignSdg
    from app.extensions import db
    from app.investors import limits
    from app.investors.models import InvestorProfile, KnowledgeTestAttempt

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret_key, "TESTING": False})
    now = datetime.now(UTC)
    with app.app_context():
        upgrade(revision="heads")
        password = generate_password_hash("bench-only-password")
        owner = User(email="owner@bench.example", name="Bench Owner", country="EE", password_hash=password,
                     created_at=now)
        owner.roles.append(UserRole(role="owner"))
        db.session.add(owner)
        db.session.flush()
        room = pledges * amount
        campaigns = [Campaign(
            owner_id=owner.id, title="Benchmark heat pumps", summary="Bench", description="Bench",
            category="energy_efficiency", country="EE", location="Tallinn", currency="EUR", instrument_type="loan",
            interest_rate_bps=650, term_months=36, repayment="annuity", target_amount=room, max_amount=room,
            min_pledge=amount, raised_amount=0, backers_count=0, reserved_amount=0, opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30), status="live", risk_class="B", created_at=now, updated_at=now,
            sdg_links=[CampaignSdg(sdg=7)]) for _ in range(rounds)]
        db.session.add_all(campaigns)
        users = []
        net_worth = 1_000_000_00
        for i in range(investors):
            user = User(email=f"investor{i}@bench.example", name=f"Investor {i}", country="EE",
                        password_hash=password, created_at=now)
            user.roles.append(UserRole(role="investor"))
            db.session.add(user)
            db.session.flush()
            db.session.add(InvestorProfile(
                user_id=user.id, legal_name=user.name, country="EE", currency="EUR", annual_income=60_000_00,
                net_worth=net_worth, other_platforms_amount=0, identity_status="verified", identity_decided_at=now,
                classification="non_sophisticated", acknowledged_at=now,
                acknowledged_loss_capacity=limits.loss_capacity(net_worth, "EU"), created_at=now, updated_at=now))
            db.session.add(KnowledgeTestAttempt(user_id=user.id, taken_at=now, score=10, pass_mark=8,
                                                question_count=10, passed=True, valid_until=now + timedelta(days=700),
                                                answers={}))
            users.append(user)
        db.session.commit()
        tokens = [issue_token(users[j % investors], now=now, ttl=timedelta(hours=2, seconds=j // investors),
                              secret_key=secret_key)[0] for j in range(max(tokens_wanted, investors))]
        db.session.commit()
        campaign_ids = [c.id for c in campaigns]
        db.engine.dispose()
    return campaign_ids, tokens


def verify(url: str, campaign_id: int) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        c = conn.execute(text("SELECT raised_amount, reserved_amount, max_amount, backers_count FROM campaigns "
                              "WHERE id = :id"), {"id": campaign_id}).one()
        paid = conn.execute(text("SELECT count(*), coalesce(sum(amount), 0) FROM pledges "
                                 "WHERE campaign_id = :id AND status = 'paid'"), {"id": campaign_id}).one()
        unbalanced = conn.execute(text("SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries "
                                       "GROUP BY transaction_id HAVING sum(amount) <> 0) t")).scalar()
        escrow = conn.execute(text(
            "SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.kind = 'campaign_escrow' AND a.owner_id = :id"), {"id": campaign_id}).scalar()
    engine.dispose()
    return {"raised": c.raised_amount, "reserved": c.reserved_amount, "max": c.max_amount,
            "backers": c.backers_count, "paid_count": paid[0], "paid_sum": int(paid[1]),
            "unbalanced_transactions": unbalanced, "escrow": int(escrow)}


# --- the load ----------------------------------------------------------------------------------


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def healthz_rate(port: int, clients: int, seconds: float) -> float:
    """Requests per second that ``clients`` concurrent clients get from /healthz."""
    counts = [0] * clients
    errors = []
    deadline = [0.0]
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            status, _ = request(port, "GET", "/healthz")
            if status != 200:
                errors.append(status)
                return
            counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"/healthz answered {errors[:5]}")
    return sum(counts) / elapsed


def pledge_race(port: int, campaign_id: int, tokens: list[str], clients: int, amount: int) -> dict:
    """Clients pledge until the round is full; returns counts and the rate of committed pledges."""
    paid = [0] * clients
    conflicts = [0] * clients
    other: list[tuple[int, bytes]] = []
    last_paid = [0.0] * clients
    barrier = threading.Barrier(clients + 1)
    body = json.dumps({"amount": amount, "payment_method": "pm_card_visa"}).encode()
    path = f"/api/v1/campaigns/{campaign_id}/pledges"

    def client(i: int) -> None:
        barrier.wait()
        n = 0
        while True:
            token = tokens[(i + n * clients) % len(tokens)]
            n += 1
            status, payload = request(port, "POST", path, body, {
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex})
            if status == 201:
                paid[i] += 1
                last_paid[i] = time.perf_counter()
            elif status == 409:
                conflicts[i] += 1
                if b"full" in payload:
                    return
            else:
                other.append((status, payload[:300]))
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    end = max(last_paid) if any(paid) else time.perf_counter()
    return {"paid": sum(paid), "conflicts": sum(conflicts), "errors": other, "seconds": end - start,
            "rate": sum(paid) / (end - start) if any(paid) else 0.0}


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), or `make bench` does it; "
                         "or run with --client python")
    return wrk


def _wrk_line(stdout: str, prefix: str) -> dict:
    line = next((x for x in stdout.splitlines() if x.startswith(prefix + " ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no {prefix} line:\n{stdout}")
    return json.loads(line[len(prefix) + 1:])


def wrk_healthz(wrk: str, port: int, connections: int, threads: int, seconds: float) -> dict:
    """/healthz requests per second (and latency) under ``connections`` wrk connections."""
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                          "-s", str(BENCH / "latency.lua"), f"http://127.0.0.1:{port}/healthz"],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    result = _wrk_line(out.stdout, "WRK")
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    if errors:
        raise SystemExit(f"/healthz under wrk: {errors} errors {result}")
    return result


def wrk_race(wrk: str, port: int, campaign_id: int, tokens: list[str], connections: int, threads: int,
             amount: int, url: str, limit: float = 300.0) -> dict:
    """wrk pledges (bench/pledge.lua) until the round is full; the time runs from wrk's start
    to the moment the database shows the round full (polled every 10 ms), then wrk is
    stopped with SIGINT, which makes it print its summary."""
    from sqlalchemy import create_engine, text

    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
        f.write("\n".join(tokens) + "\n")
        token_file = f.name
    engine = create_engine(url)
    full = text("SELECT raised_amount = max_amount FROM campaigns WHERE id = :id")
    env = {**os.environ, "PLEDGE_TOKENS": token_file, "PLEDGE_THREADS": str(threads),
           "PLEDGE_PATH": f"/api/v1/campaigns/{campaign_id}/pledges",
           "PLEDGE_BODY": json.dumps({"amount": amount, "payment_method": "pm_card_visa"}),
           "PLEDGE_RUN": uuid.uuid4().hex[:12]}
    try:
        with engine.connect() as conn:
            start = time.perf_counter()
            process = subprocess.Popen(
                [wrk, f"-t{threads}", f"-c{connections}", f"-d{int(limit)}s", "--timeout", "30s",
                 "-s", str(BENCH / "pledge.lua"), f"http://127.0.0.1:{port}/"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            end = None
            while process.poll() is None and time.perf_counter() - start < limit:
                if conn.execute(full, {"id": campaign_id}).scalar():
                    end = time.perf_counter()
                    break
                conn.rollback()
                time.sleep(0.01)
            time.sleep(0.2)  # let the last answers (409 full) arrive
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            stdout, _ = process.communicate(timeout=60)
    finally:
        engine.dispose()
        os.unlink(token_file)
    result = _wrk_line(stdout, "PLEDGE")
    seconds = (end or time.perf_counter()) - start
    errors = [result["first_other"]] if result["other"] else []
    if result["socket_errors"]:
        errors.append(f"{result['socket_errors']} socket errors")
    return {"paid": result["paid"], "conflicts": result["conflicts"], "errors": errors, "seconds": seconds,
            "rate": result["paid"] / seconds if end else 0.0, "p50_ms": result["p50_ms"],
            "p95_ms": result["p95_ms"]}


def start_gunicorn(url: str, port: int, workers: int, secret_key: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret_key, "GREENROUND_CONFIG": "production",
           "SCHEDULER_ENABLED": "false", "PAYMENT_GATEWAY": "sandbox"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True)
    for _ in range(150):
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                # every worker up: a few more requests spread over them
                for _ in range(workers * 4):
                    request(port, "GET", "/healthz")
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def check(state: dict, race: dict, pledges: int) -> list[str]:
    problems = []
    if race["errors"]:
        problems.append(f"unexpected answers: {race['errors'][:3]}")
    if state["raised"] > state["max"] or state["raised"] + state["reserved"] > state["max"]:
        problems.append("THE ROUND WENT OVER ITS MAXIMUM")
    if state["paid_count"] != pledges or race["paid"] != pledges or state["raised"] != state["max"]:
        problems.append(f"expected exactly {pledges} paid pledges filling the round")
    if state["paid_sum"] != state["raised"] or state["escrow"] != state["raised"]:
        problems.append("raised, paid pledges and escrow disagree")
    if state["unbalanced_transactions"]:
        problems.append("the ledger does not balance")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clients = ["python", "wrk"] if args.client == "both" else [args.client]
    wrk = require_wrk() if "wrk" in clients else None
    secret_key = uuid.uuid4().hex
    port = args.port or free_port()
    url, drop = scratch_database(args.admin_url, f"pledge_bench_{uuid.uuid4().hex[:8]}")
    server = None
    runs: dict[str, dict] = {}
    try:
        print(f"database {url.rsplit('/', 1)[1]}: migrating and seeding {args.clients * 2} investors, "
              f"{len(clients)} round(s) with room for {args.pledges} pledges of {args.amount / 100:.2f} EUR",
              flush=True)
        campaign_ids, tokens = seed(url, investors=args.clients * 2, pledges=args.pledges, amount=args.amount,
                                    secret_key=secret_key, rounds=len(clients),
                                    tokens_wanted=args.pledges + args.clients * 8)
        server = start_gunicorn(url, port, args.workers, secret_key)
        print(f"gunicorn: {args.workers} workers on 127.0.0.1:{port}; {args.clients} concurrent clients; "
              f"{len(tokens)} distinct bearer tokens", flush=True)
        for client, campaign_id in zip(clients, campaign_ids, strict=True):
            if client == "wrk":
                wrk_healthz(wrk, port, args.clients, args.wrk_threads, 2)  # warm every worker
                before = wrk_healthz(wrk, port, args.clients, args.wrk_threads, args.healthz_seconds)
                race = wrk_race(wrk, port, campaign_id, tokens, args.clients, args.wrk_threads, args.amount, url)
                after = wrk_healthz(wrk, port, args.clients, args.wrk_threads, args.healthz_seconds)
                runs[client] = {"before": before["rate"], "after": after["rate"], "race": race,
                                "healthz_p95": (before["p95_ms"], after["p95_ms"])}
            else:
                before = healthz_rate(port, args.clients, args.healthz_seconds)
                race = pledge_race(port, campaign_id, tokens, args.clients, args.amount)
                after = healthz_rate(port, args.clients, args.healthz_seconds)
                runs[client] = {"before": before, "after": after, "race": race}
            runs[client]["state"] = verify(url, campaign_id)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if not args.keep:
            drop()

    problems = []
    for client, run in runs.items():
        race, state = run["race"], run["state"]
        healthz = statistics.mean([run["before"], run["after"]])
        run["ratio"] = race["rate"] / healthz if healthz else 0.0
        print(f"\n== driven by {client}" + (f" ({args.wrk_threads} threads, bench/pledge.lua)" if client == "wrk"
                                           else " (Python threads, one connection per request)"))
        print(f"/healthz before the race:   {run['before']:9.1f} requests/s")
        print(f"/healthz after the race:    {run['after']:9.1f} requests/s")
        print(f"pledges committed:          {race['paid']:9d} in {race['seconds']:.2f} s "
              f"({race['conflicts']} x 409 at the end)")
        latency = f"  (p50 {race['p50_ms']:.1f} ms, p95 {race['p95_ms']:.1f} ms)" if "p50_ms" in race else ""
        print(f"pledge rate:                {race['rate']:9.1f} pledges/s{latency}")
        print(f"ratio pledge/healthz:       {run['ratio']:9.3f}  (target >= 0.2)")
        print(f"round: raised {state['raised']} of max {state['max']} (reserved {state['reserved']}), "
              f"{state['backers']} backers, {state['paid_count']} paid pledges, escrow {state['escrow']}, "
              f"{state['unbalanced_transactions']} unbalanced ledger transactions")
        found = check(state, race, args.pledges)
        for problem in found:
            print(f"FAIL ({client}): {problem}")
        if client == "wrk" and run["ratio"] < 0.2:
            print(f"FAIL ({client}): ratio {run['ratio']:.3f} below 0.2")
            found.append("ratio")
        problems += found
    if len(runs) == 2:
        py, wr = runs["python"], runs["wrk"]
        print(f"\n== python vs wrk: pledges/s {py['race']['rate']:.1f} vs {wr['race']['rate']:.1f}, "
              f"healthz/s {statistics.mean([py['before'], py['after']]):.1f} vs "
              f"{statistics.mean([wr['before'], wr['after']]):.1f}, ratio {py['ratio']:.3f} vs {wr['ratio']:.3f}")
    print("PASS" if not problems else "FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
