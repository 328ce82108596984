"""Campaign listing benchmark: the filtered list page and API at 10 and at 10,000 campaigns.

    .venv/bin/python bench/campaign_list.py [--sizes 10,10000] [--duration 10] [--connections 16]
    .venv/bin/python bench/campaign_list.py --explain     # also EXPLAIN ANALYZE each list query

It creates its own scratch PostgreSQL databases (``greenround_bench_list_<size>``, dropped
at the end unless ``--keep``), migrates them and fills each with its number of campaigns (a
realistic mix of statuses, categories, countries and 1–4 SDGs each, owned by a few hundred
project owners, bulk-inserted; the small platform's campaigns are the first ones of the
large), starts one gunicorn per size (``--workers``, production config) and measures with
``wrk`` (``--connections`` connections, ``--duration`` seconds each), interleaving the sizes
over ``--rounds`` rounds so that the load of a shared machine hits both alike (medians):

- ``GET /healthz`` (the baseline: no database work beyond the app itself);
- the filtered HTML list page ``/campaigns/?status=live&category=<c>``;
- ``GET /api/v1/campaigns?status=live&category=<c>``;
- the same with ``&per_page=1`` (not a target: the same page content at every size, so it
  shows what the table's size alone costs; the small platform's filter matches fewer
  campaigns than a page holds, so its pages are shorter).

The SQL statements each
request runs are counted in process (a ``before_cursor_execute`` listener, the same
production configuration on the same database). It prints, per size and URL, requests/s,
p50 and p95 latency, the ratio to /healthz, and then the large/small ratios and PASS/FAIL
against the targets: throughput at the largest size >= 0.8x the smallest, the same number
of SQL queries at every size, p95 <= 3x the /healthz p95 of the same run.

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Talks to 127.0.0.1 only.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402

LUA = Path(__file__).resolve().with_name("latency.lua")
DATABASE = "greenround_bench_list_{size}"
CATEGORY = "energy_efficiency"  # the filter's category: the commonest, so the large page is full
OWNERS = 300

# A realistic platform: most campaigns are past rounds; a few drafts and reviews.
STATUSES = (("draft", 7), ("submitted", 3), ("approved", 4), ("live", 14), ("successful", 6), ("failed", 14),
            ("cancelled", 2), ("repaying", 30), ("completed", 16), ("defaulted", 4))
CATEGORIES = (("energy_efficiency", 24), ("renewable_energy", 20), ("clean_transport", 10), ("clean_shipping", 7),
              ("water", 8), ("circular_economy", 10), ("industrial_symbiosis", 6), ("sustainable_agriculture", 9),
              ("biotech", 6))
COUNTRIES = (("EE", 14), ("LV", 12), ("LT", 12), ("FI", 16), ("SE", 14), ("DK", 8), ("DE", 10), ("PL", 10),
             ("NO", 2), ("RU", 2))
SDG_CHOICES = (7, 7, 7, 13, 13, 11, 9, 12, 6, 14, 3, 4, 8, 15, 17, 2, 1, 5, 10, 16)
PLACES = ("Tallinn", "Tartu", "Riga", "Vilnius", "Kaunas", "Helsinki", "Turku", "Stockholm", "Gdansk", "Rostock")
WORDS = ("heat pumps", "LED street lighting", "solar roof", "retrofit", "biogas", "wind", "ferry", "e-bus depot",
         "district heating", "recycling line", "wastewater", "greenhouse")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1/test"),
                        help="a PostgreSQL URL the scratch database is created from (default: %(default)s)")
    parser.add_argument("--sizes", default="10,10000", help="campaign counts, ascending (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds over the sizes; medians are reported (default: %(default)s)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every list statement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), or `make bench` does it")
    return wrk


# --- the database ------------------------------------------------------------------------------


def _pick(rng: random.Random, weighted: tuple) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def campaign_rows(first_id: int, count: int, now: datetime, owner_ids: list[int]) -> tuple[list, list]:
    """``count`` campaigns (ids from ``first_id``) and their SDG links, deterministic per id."""
    campaigns, sdgs = [], []
    for cid in range(first_id, first_id + count):
        rng = random.Random(cid)
        status = _pick(rng, STATUSES)
        category = _pick(rng, CATEGORIES)
        country = _pick(rng, COUNTRIES)
        loan = rng.random() < 0.85
        target = rng.randrange(20_000, 2_000_000, 1_000) * 100
        maximum = target + target // rng.choice((4, 5, 10))
        if status in ("draft", "submitted", "approved"):
            opens = now + timedelta(days=rng.randint(3, 40))
            raised, backers, risk = 0, 0, (rng.choice("ABCDE") if status == "approved" and loan else None)
        elif status == "live":
            opens = now - timedelta(days=rng.randint(1, 40))
            raised = rng.randrange(0, target, 100)
            backers, risk = raised // 50_000, rng.choice("ABCDE") if loan else None
        else:
            opens = now - timedelta(days=rng.randint(60, 1500))
            raised = target + rng.randrange(0, maximum - target + 1, 100) if status != "failed" else \
                rng.randrange(0, target, 100)
            if status == "cancelled":
                raised = 0
            backers, risk = raised // 50_000, rng.choice("ABCDE") if loan else None
        closes = opens + timedelta(days=rng.randint(14, 90))
        place, word = rng.choice(PLACES), rng.choice(WORDS)
        created = opens - timedelta(days=rng.randint(5, 30))
        campaigns.append({
            "id": cid, "owner_id": rng.choice(owner_ids), "title": f"{word.capitalize()} in {place} no. {cid}",
            "summary": f"A {word} project in {place}: the energy savings repay the investors over the term.",
            "description": (f"The {word} project in {place} replaces fossil heating and lighting. " * 20).strip(),
            "category": category, "country": country, "location": place,
            "currency": "RUB" if country == "RU" else "EUR",
            "instrument_type": "loan" if loan else "donation",
            "interest_rate_bps": rng.randrange(300, 1100, 25) if loan else None,
            "term_months": rng.choice((12, 24, 36, 48, 60, 84)) if loan else None,
            "repayment": rng.choice(("annuity", "bullet")) if loan else None,
            "target_amount": target, "max_amount": maximum, "min_pledge": 50_00, "raised_amount": raised,
            "backers_count": backers, "reserved_amount": 0, "opens_at": opens, "closes_at": closes,
            "status": status, "risk_class": risk, "co2_tonnes_per_year": round(rng.uniform(5, 2000), 1),
            "energy_mwh_per_year": round(rng.uniform(10, 9000), 1), "rejection_reason": None,
            "current_kiis_version": 1 if risk else None,
            "submitted_at": None if status == "draft" else created + timedelta(days=2),
            "approved_at": None if status in ("draft", "submitted") else created + timedelta(days=4),
            "created_at": created, "updated_at": created + timedelta(days=4),
        })
        for sdg in sorted(set(rng.sample(SDG_CHOICES, rng.randint(1, 4)))):
            sdgs.append({"campaign_id": cid, "sdg": sdg})
    return campaigns, sdgs


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False})
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()


def fill(url: str, size: int, now: datetime) -> None:
    """Add owners (once) and campaigns until there are ``size``; then ANALYZE."""
    from sqlalchemy import create_engine, insert, text

    from app.accounts.models import User, UserRole
    from app.campaigns.models import Campaign, CampaignSdg

    engine = create_engine(url)
    with engine.begin() as conn:
        if not conn.execute(text("SELECT count(*) FROM users")).scalar():
            conn.execute(insert(User.__table__), [
                {"id": i, "email": f"owner{i}@bench.example", "name": f"Owner {i}", "country": "EE",
                 "password_hash": "!", "created_at": now} for i in range(1, OWNERS + 1)])
            conn.execute(insert(UserRole.__table__), [{"user_id": i, "role": "owner"} for i in range(1, OWNERS + 1)])
            conn.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), :n)"), {"n": OWNERS})
        have = conn.execute(text("SELECT coalesce(max(id), 0) FROM campaigns")).scalar()
        for start in range(have + 1, size + 1, 2000):
            rows, links = campaign_rows(start, min(2000, size + 1 - start), now, list(range(1, OWNERS + 1)))
            conn.execute(insert(Campaign.__table__), rows)
            conn.execute(insert(CampaignSdg.__table__), links)
        conn.execute(text("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), :n)"), {"n": size})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# --- measuring ---------------------------------------------------------------------------------


def production_env(url: str, secret_key: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret_key, "GREENROUND_CONFIG": "production",
            "SCHEDULER_ENABLED": "false", "PAYMENT_GATEWAY": "sandbox"}


def get(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        response.read()
        return response.status


def start_gunicorn(url: str, port: int, workers: int, secret_key: str) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=production_env(url, secret_key), start_new_session=True)
    for _ in range(150):
        try:
            if get(port, "/healthz") == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        time.sleep(0.2)
    stop(process)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def run_wrk(wrk: str, port: int, path: str, args: argparse.Namespace, seconds: int | None = None) -> dict:
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds or args.duration}s",
               "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=(seconds or args.duration) + 60, check=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    result = json.loads(line[4:])
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    if errors:
        raise SystemExit(f"wrk saw {errors} errors on {path}: {result}")
    return result


def count_queries(url: str, secret_key: str, paths: list[str], explain: bool) -> dict[str, tuple[int, int, str]]:
    """SQL statements per request, the response size and a digest, in process (production config)."""
    import hashlib

    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    os.environ.update({"DATABASE_URL": url, "SECRET_KEY": secret_key, "SCHEDULER_ENABLED": "false"})
    app = create_app("production")
    result = {}
    with app.app_context():
        client = app.test_client()
        for path in paths:
            client.get(path)  # warm caches (compiled statements, templates)
            statements: list[tuple[str, object]] = []

            def record(conn, cursor, statement, parameters, context, executemany, into=statements):
                into.append((statement, parameters))

            event.listen(db.engine, "before_cursor_execute", record)
            try:
                response = client.get(path)
            finally:
                event.remove(db.engine, "before_cursor_execute", record)
            body = response.get_data()
            assert response.status_code == 200, (path, response.status_code)
            result[path] = (len(statements), len(body), hashlib.sha256(body).hexdigest()[:12])
            if explain:
                print(f"\n--- EXPLAIN ANALYZE for {path} ({len(statements)} statements)")
                raw = db.engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    for statement, parameters in statements:
                        if not statement.lstrip().upper().startswith("SELECT"):
                            continue
                        print(f"\n{statement}\n  -- {parameters}")
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                        for (row,) in cursor.fetchall():
                            print("  " + row)
                    raw.rollback()
                finally:
                    raw.close()
        db.engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    import statistics

    args = parse_args(argv)
    wrk = require_wrk()
    sizes = [int(s) for s in args.sizes.split(",")]
    secret_key = uuid.uuid4().hex
    now = datetime.now(UTC)
    paths = {"healthz": "/healthz", "html": f"/campaigns/?status=live&category={CATEGORY}",
             "api": f"/api/v1/campaigns?status=live&category={CATEGORY}",
             # informational: the API with one campaign per page at both sizes, i.e. the same
             # page content, which separates the cost of the table's size from that of the page's
             "api_1": f"/api/v1/campaigns?status=live&category={CATEGORY}&per_page=1"}
    servers: dict[int, tuple[subprocess.Popen, int]] = {}
    drops = []
    queries: dict[int, dict] = {}
    samples: dict[int, dict[str, list[dict]]] = {size: {name: [] for name in paths} for size in sizes}
    try:
        for size in sizes:
            url, drop = scratch_database(args.admin_url, DATABASE.format(size=size))
            drops.append(drop)
            started = time.perf_counter()
            migrate(url)
            fill(url, size, now)
            queries[size] = count_queries(url, secret_key, [paths["html"], paths["api"], paths["api_1"]], args.explain)
            port = args.port + len(servers) if args.port else free_port()
            servers[size] = (start_gunicorn(url, port, args.workers, secret_key), port)
            for path in paths.values():  # warm every worker
                run_wrk(wrk, port, path, args, seconds=2)
            print(f"{size:>6} campaigns: {DATABASE.format(size=size)} migrated and filled in "
                  f"{time.perf_counter() - started:.1f} s, gunicorn on 127.0.0.1:{port}", flush=True)
        print(f"gunicorn {args.workers} workers per size; wrk {args.threads} threads, {args.connections} connections, "
              f"{args.duration} s per run; {args.rounds} rounds interleaving the sizes", flush=True)
        for round_ in range(1, args.rounds + 1):
            for size in sizes:
                port = servers[size][1]
                for name, path in paths.items():
                    r = run_wrk(wrk, port, path, args)
                    samples[size][name].append(r)
                    print(f"  round {round_} {size:>6} {path:58s} {r['rate']:8.1f}/s  p50 {r['p50_ms']:6.2f} ms  "
                          f"p95 {r['p95_ms']:6.2f} ms", flush=True)
    finally:
        for process, _ in servers.values():
            stop(process)
        if not args.keep:
            for drop in drops:
                drop()

    def median(size: int, name: str, key: str) -> float:
        return statistics.median(r[key] for r in samples[size][name])

    print(f"\n== medians of {args.rounds} rounds")
    for size in sizes:
        health = median(size, "healthz", "rate")
        for name, path in paths.items():
            q = queries[size].get(path)
            extra = f"  {q[0]} SQL/request, {q[1]:,} bytes" if q else ""
            print(f"  {size:>6} {path:58s} {median(size, name, 'rate'):8.1f}/s  "
                  f"p50 {median(size, name, 'p50_ms'):6.2f} ms  p95 {median(size, name, 'p95_ms'):6.2f} ms  "
                  f"x{median(size, name, 'rate') / health:.3f} of healthz{extra}")

    small, large = sizes[0], sizes[-1]
    failures = []
    print(f"\n== {large} vs {small} campaigns")
    for name in ("html", "api"):
        path = paths[name]
        rs, rl = median(small, name, "rate"), median(large, name, "rate")
        qs, ql = queries[small][path][0], queries[large][path][0]
        hp95 = median(large, "healthz", "p95_ms")
        p95 = median(large, name, "p95_ms")
        normalised = (rl / median(large, "healthz", "rate")) / (rs / median(small, "healthz", "rate"))
        checks = [(rl / rs >= 0.8, f"throughput {rl:.1f}/s vs {rs:.1f}/s: x{rl / rs:.3f} (>= 0.8; "
                                   f"x{normalised:.3f} as shares of each size's /healthz)"),
                  (qs == ql, f"SQL queries per request {ql} vs {qs} (equal)"),
                  (p95 / hp95 <= 3, f"p95 {p95:.2f} ms = x{p95 / hp95:.2f} of healthz p95 {hp95:.2f} ms (<= 3)")]
        for ok, text in checks:
            print(f"  {'PASS' if ok else 'FAIL'} {name:4s} {text}")
            if not ok:
                failures.append(f"{name}: {text}")
    print("PASS" if not failures else f"FAIL ({len(failures)} of 6 checks)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
