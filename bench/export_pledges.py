"""Pledge-ledger export benchmark: the app's streamed CSV against a bare ``COPY`` of the same rows.

It (re)creates a scratch PostgreSQL database (``greenround_bench`` by default), migrates
it, and fills it with ``--rows`` pledges in one ``INSERT … SELECT generate_series`` (one
million by default, spread over 2026). Then, in the same run:

1. the app's export: ``GET /api/v1/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-12-31``
   as a regulator, through the Flask test client, consuming the streamed body chunk by chunk;
2. ``COPY (SELECT …) TO STDOUT`` of the same query (the very SQL the export runs), read with
   psycopg and discarded;

each ``--rounds`` times, alternating, after one warm-up COPY. It prints rows/s of both
(best round), their ratio, that both produced identical bytes, and the process's peak
resident memory (``ru_maxrss``: the app's imports and the exports; migrating and seeding
run in a child process so they do not count), next to the peak before the first export.
Targets (issue 9): ratio ≥ 0.5 and peak < 150 MB.

    .venv/bin/python bench/export_pledges.py
    .venv/bin/python bench/export_pledges.py --rows 100000 --rounds 3 --keep
"""

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402

TARGET_RATIO = 0.5
TARGET_PEAK_MB = 150
PASSWORD = "bench-password-123"  # noqa: S105  (scratch database only)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1/test"),
                        help="a PostgreSQL URL the scratch database is created from (default: %(default)s)")
    parser.add_argument("--database", default="greenround_bench", help="scratch database name (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="pledges to export (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--seed-only", metavar="URL", help=argparse.SUPPRESS)  # the seeding child process
    return parser.parse_args(argv)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def seed(app, rows: int) -> None:
    """A regulator, 10,000 investors, 20 campaigns and ``rows`` pledges, all in SQL on the server."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.accounts.services import create_user
    from app.campaigns.models import Campaign
    from app.core.permissions import Role
    from app.extensions import db

    with app.app_context():
        upgrade()
        now = datetime(2026, 11, 25, tzinfo=UTC)
        create_user(email="regulator@bench.example", password=PASSWORD, name="Regulator", country="EE",
                    roles=[Role.REGULATOR], now=now)
        owner = create_user(email="owner@bench.example", password=PASSWORD, name="Owner", country="EE",
                            roles=[Role.OWNER], now=now)
        db.session.flush()
        for i in range(20):
            db.session.add(Campaign(
                owner_id=owner.id, title=f"Bench campaign {i}", summary="s", description="d",
                category="energy_efficiency", country="EE", location="Tallinn", currency="EUR",
                instrument_type="loan", interest_rate_bps=650, term_months=36, repayment="annuity",
                target_amount=10**12, max_amount=10**12, min_pledge=1, raised_amount=0, backers_count=0,
                opens_at=datetime(2026, 1, 1, tzinfo=UTC), closes_at=datetime(2027, 1, 1, tzinfo=UTC),
                status="live", risk_class="B", co2_tonnes_per_year=1.0, energy_mwh_per_year=1.0,
                created_at=now, updated_at=now))
        db.session.execute(text(
            "INSERT INTO users (email, password_hash, name, country, session_token, active, created_at) "
            "SELECT 'investor' || g || '@bench.example', 'x', 'Investor ' || g, 'EE', "
            "substr(md5(g::text), 1, 32), true, now() FROM generate_series(1, 10000) g"))
        db.session.commit()
        campaigns = db.session.execute(text("SELECT min(id), max(id) FROM campaigns")).one()
        investors = db.session.execute(text("SELECT min(id), max(id) FROM users WHERE email LIKE 'investor%'")).one()
        started = time.perf_counter()
        # Foreign keys hold by construction; skipping their per-row triggers makes the load several times faster.
        try:
            with db.session.begin_nested():
                db.session.execute(text("SET LOCAL session_replication_role = replica"))
        except Exception:  # noqa: S110  (not a superuser: keep the checks)
            pass
        # 30 s apart from 2026-01-01: a million pledges fill most of the year.
        db.session.execute(text(
            "INSERT INTO pledges (campaign_id, investor_id, amount, currency, status, payment_method, created_at, "
            "paid_at, kiis_version) "
            "SELECT :c0 + g % (:c1 - :c0 + 1), :i0 + g % (:i1 - :i0 + 1), 5000 + (g * 7919) % 500000, 'EUR', "
            "CASE WHEN g % 10 = 0 THEN 'refunded' WHEN g % 17 = 0 THEN 'failed' ELSE 'paid' END, 'pm_card_visa', "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '30 seconds', "
            "CASE WHEN g % 17 = 0 THEN NULL "
            "ELSE timestamptz '2026-01-01 00:00:00+00' + g * interval '30 seconds' + interval '2 seconds' END, 1 "
            "FROM generate_series(1::bigint, :n) g"),
            {"c0": campaigns[0], "c1": campaigns[1], "i0": investors[0], "i1": investors[1], "n": rows})
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"seeded {rows:,} pledges in {time.perf_counter() - started:.1f} s")


def measure_app(client, headers: dict) -> tuple[float, int, int, str]:
    """Seconds, rows, bytes and SHA-256 of the app's streamed export, consumed chunk by chunk."""
    digest, size, lines = hashlib.sha256(), 0, 0
    started = time.perf_counter()
    response = client.get("/api/v1/disclosures/exports/pledges.csv?from=2026-01-01&to=2026-12-31",
                          headers=headers, buffered=False)
    assert response.status_code == 200, response.status
    for chunk in response.response:
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    return time.perf_counter() - started, lines - 1, size, digest.hexdigest()


def measure_copy(url: str) -> tuple[float, int, int, str]:
    """The same numbers for a bare ``COPY (SELECT …) TO STDOUT`` of the export's own SQL."""
    import psycopg

    from app.disclosures.exports import DateRange, pledge_copy_sql

    rng = DateRange(datetime(2026, 1, 1).date(), datetime(2026, 12, 31).date())
    digest, size, lines = hashlib.sha256(), 0, 0
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(pledge_copy_sql(rng)) as copy:
            for data in copy:
                digest.update(data)
                size += len(data)
                lines += bytes(data).count(b"\n")
        elapsed = time.perf_counter() - started
    return elapsed, lines - 1, size, digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed_only:
        from app import create_app

        seed(create_app({"SQLALCHEMY_DATABASE_URI": args.seed_only}), args.rows)
        return 0
    url, drop = scratch_database(args.admin_url, args.database)
    try:
        # Migrating and seeding run in a child, so the peak memory measured here is the app's and the export's.
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--seed-only", url], check=True)
        from app import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        client = app.test_client()
        with app.app_context():
            # Issued directly: checking the password (scrypt, ~32 MB of working memory) is not what we measure.
            from datetime import timedelta

            from app.accounts.services import find_by_email
            from app.accounts.tokens import issue_token
            from app.core.clock import now
            from app.extensions import db

            token, _ = issue_token(find_by_email("regulator@bench.example"), now=now(), ttl=timedelta(hours=1),
                                   secret_key=app.config["SECRET_KEY"])
            db.session.commit()
            headers = {"Authorization": f"Bearer {token}"}
        rss_before = peak_rss_mb()
        measure_copy(url)  # warm-up: the table into the page cache, the plan into shape
        app_runs, copy_runs = [], []
        for _ in range(args.rounds):
            with app.app_context():
                app_runs.append(measure_app(client, headers))
            copy_runs.append(measure_copy(url))
        best_app, best_copy = min(app_runs), min(copy_runs)
        app_rate, copy_rate = best_app[1] / best_app[0], best_copy[1] / best_copy[0]
        ratio, peak = app_rate / copy_rate, peak_rss_mb()
        identical = best_app[1:] == best_copy[1:]

        print(f"rows exported              {best_app[1]:>12,}   ({best_app[2] / 2**20:,.1f} MiB of CSV)")
        print(f"app streamed export        {app_rate:>12,.0f} rows/s   best of {args.rounds}: "
              + ", ".join(f"{r[0]:.2f} s" for r in app_runs))
        print(f"COPY (SELECT …) TO STDOUT  {copy_rate:>12,.0f} rows/s   best of {args.rounds}: "
              + ", ".join(f"{r[0]:.2f} s" for r in copy_runs))
        print(f"ratio app / COPY           {ratio:>12.2f}    (target ≥ {TARGET_RATIO})")
        print(f"identical bytes            {'yes' if identical else 'NO':>12}    (sha256 {best_app[3][:16]}…)")
        print(f"peak RSS before exports    {rss_before:>12.1f} MB (the app loaded: every domain's imports)")
        print(f"peak RSS of the process    {peak:>12.1f} MB (target < {TARGET_PEAK_MB} MB)")
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        ok = identical and ratio >= TARGET_RATIO and peak < TARGET_PEAK_MB
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop()


if __name__ == "__main__":
    raise SystemExit(main())
