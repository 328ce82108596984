"""Importing a camt.053 of 100,000 credits that pay 100,000 pending bank-transfer pledges.

It (re)creates a scratch PostgreSQL database (``greenround_statement_bench`` by default),
migrates it, and seeds one live round with ``--entries`` pending bank-transfer pledges
(100,000 by default) from 1,000 investors, each with the RF reference and the amount of one
entry of a generated camt.053.001.02 (``tests.banking.camt_samples.write_statement``,
written to a temporary file, streamed). Then, in the same run, each in a fresh child process
so that its peak RSS is its own:

1. the baseline: ``lxml.etree.iterparse`` over the file alone, clearing each entry;
2. the import as ``POST /api/v1/bank-statements`` runs it (``statements.services.import_statement``
   on the file's stream, one transaction, committed).

It prints both times, their ratio (target <= 4x) and the import's peak RSS (target < 200 MB),
then checks that every pledge is paid exactly once, with its ledger posting, that the round's
counters moved from reserved to raised, that every line is stored matched and that the ledger
is balanced, and prints PASS or FAIL.

    .venv/bin/python bench/statement_import.py
    .venv/bin/python bench/statement_import.py --entries 20000 --keep
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402

TARGET_RATIO = 4.0
TARGET_RSS_MB = 200
INVESTORS = 1_000
NOW = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
NS = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1/test"),
                        help="a PostgreSQL URL the scratch database is created from (default: %(default)s)")
    parser.add_argument("--database", default="greenround_statement_bench",
                        help="scratch database name (default: %(default)s)")
    parser.add_argument("--entries", type=int, default=100_000,
                        help="entries and pending pledges (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "FILE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def amount_of(i: int) -> int:
    """The minor units of generated entry ``i`` (``camt_samples.generated_entry``)."""
    return (10 + i % 1000) * 100 + i % 100


def seed(entries: int) -> int:
    """The owner, the investors, the live round and its pending bank-transfer pledges; the campaign id."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.banking.references import make_reference
    from app.campaigns.models import Campaign
    from app.extensions import db

    upgrade()
    started = time.perf_counter()
    db.session.execute(text(
        "INSERT INTO users (email, password_hash, name, country, session_token, active, created_at) "
        "SELECT 'investor' || g || '@bench.example', 'x', 'Investor ' || g, 'EE', substr(md5(g::text), 1, 32), "
        "true, :now FROM generate_series(0, :n) g"), {"n": INVESTORS, "now": NOW - timedelta(days=60)})
    owner_id, first, last = db.session.execute(text(
        "SELECT min(id), min(id) + 1, max(id) FROM users WHERE email LIKE 'investor%@bench.example'")).one()
    total = sum(amount_of(i) for i in range(entries))
    campaign = Campaign(
        owner_id=owner_id, title="Heat pumps for Pärnu", summary="s", description="d",
        category="energy_efficiency", country="EE", location="Pärnu", currency="EUR", instrument_type="loan",
        interest_rate_bps=650, term_months=36, repayment="annuity", target_amount=10**13, max_amount=10**13,
        min_pledge=1, raised_amount=0, backers_count=0, reserved_amount=total,
        opens_at=NOW - timedelta(days=10), closes_at=NOW + timedelta(days=20), status="live", risk_class="B",
        created_at=NOW - timedelta(days=20), updated_at=NOW - timedelta(days=10))
    db.session.add(campaign)
    db.session.flush()
    created = NOW - timedelta(days=2)
    rows = [{"c": campaign.id, "u": first + i % (last - first + 1), "a": amount_of(i), "ref": make_reference("P", i),
             "created": created, "pay_by": created + timedelta(days=5), "reflect": created + timedelta(days=4)}
            for i in range(entries)]
    insert = text(
        "INSERT INTO pledges (campaign_id, investor_id, amount, currency, status, payment_method, created_at, "
        "kiis_version, payment_reference, pay_by, reflection_ends_at) "
        "VALUES (:c, :u, :a, 'EUR', 'pending_payment', 'bank_transfer', :created, 1, :ref, :pay_by, :reflect)")
    for start in range(0, entries, 10_000):
        db.session.execute(insert, rows[start:start + 10_000])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"seeded {entries:,} pending bank-transfer pledges in {time.perf_counter() - started:.1f} s")
    return campaign.id


def child_parse(path: str) -> dict:
    from lxml import etree

    started = time.perf_counter()
    count = 0
    for _event, element in etree.iterparse(path, events=("end",), tag=f"{NS}Ntry"):
        count += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return {"seconds": time.perf_counter() - started, "entries": count}


def child_import(url: str, path: str) -> dict:
    from app import create_app
    from app.extensions import db
    from app.statements import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAYMENT_GATEWAY": "sandbox", "SANDBOX_JOURNAL": None,
                      "CLOCK": lambda: NOW})
    with app.app_context():
        started = time.perf_counter()
        with open(path, "rb") as stream:
            statement = services.import_statement(stream, "bench.xml", actor=None, now=NOW, jurisdiction="EU")
        db.session.commit()
        elapsed = time.perf_counter() - started
        result = {"seconds": elapsed, "entries": statement.entries, "matched": statement.matched,
                  "unmatched": statement.unmatched, "duplicates": statement.duplicates}
        db.session.remove()
        db.engine.dispose()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``): unlike ``ru_maxrss`` it is not inherited
    from the parent that forked the child before ``exec``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(mode: str, url: str, path: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, url, path], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(campaign_id: int, entries: int) -> list[str]:
    from sqlalchemy import text

    from app.extensions import db

    def one(sql: str) -> int:
        return db.session.execute(text(sql), {"c": campaign_id}).scalar() or 0

    want = sum(amount_of(i) for i in range(entries))
    problems = []
    counts = {
        "paid pledges": one("SELECT count(*) FROM pledges WHERE campaign_id = :c AND status = 'paid'"),
        "paid postings": one("SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE 'pledge-%-paid'"),
        "matched lines": one("SELECT count(*) FROM statement_lines WHERE status = 'matched' AND pledge_id IS NOT NULL"),
        "audit entries": one("SELECT count(*) FROM audit_log WHERE action = 'pledge.paid_by_transfer'"),
        "e-mails": one("SELECT count(*) FROM outbox WHERE kind = 'pledge_paid_by_transfer'"),
        "backers": one("SELECT backers_count FROM campaigns WHERE id = :c"),
    }
    problems += [f"{name}: {value:,} (want {entries:,})" for name, value in counts.items() if value != entries]
    raised, reserved = db.session.execute(text("SELECT raised_amount, reserved_amount FROM campaigns WHERE id = :c"),
                                          {"c": campaign_id}).one()
    if (raised, reserved) != (want, 0):
        problems.append(f"round: raised {raised}, reserved {reserved} (want {want}, 0)")
    unbalanced = one("SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id "
                     "HAVING sum(amount) <> 0) t")
    total = one("SELECT coalesce(sum(amount), 0) FROM ledger_entries")
    if unbalanced or total:
        problems.append(f"ledger: {unbalanced} unbalanced transactions, entries sum to {total}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        mode, url, path = args.child
        result = child_parse(path) if mode == "parse" else child_import(url, path)
        result["max_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    from tests.banking.camt_samples import write_statement

    url, drop = scratch_database(args.admin_url, args.database)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "camt053.xml")
        try:
            from app import create_app
            from app.extensions import db

            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAYMENT_GATEWAY": "sandbox", "SANDBOX_JOURNAL": None})
            with app.app_context():
                campaign_id = seed(args.entries)
                db.session.remove()
                size = write_statement(path, args.entries)
                print(f"statement: {args.entries:,} entries, {size / 1e6:.1f} MB")
                parsed = run_child("parse", url, path)
                print(f"iterparse alone: {parsed['entries']:,} entries in {parsed['seconds']:.2f} s, "
                      f"peak RSS {parsed['max_rss_mb']:.0f} MB")
                imported = run_child("import", url, path)
                print(f"import: {imported['entries']:,} entries ({imported['matched']:,} matched, "
                      f"{imported['unmatched']:,} unmatched) in {imported['seconds']:.2f} s, "
                      f"peak RSS {imported['max_rss_mb']:.0f} MB")
                problems = check(campaign_id, args.entries)
                db.session.remove()
                db.engine.dispose()
            ratio = imported["seconds"] / parsed["seconds"]
            print(f"import {imported['seconds']:.2f} s / iterparse {parsed['seconds']:.2f} s = {ratio:.2f}x "
                  f"(target <= {TARGET_RATIO:.0f}x); peak RSS {imported['max_rss_mb']:.0f} MB "
                  f"(target < {TARGET_RSS_MB} MB)")
            for problem in problems:
                print(f"  check failed: {problem}")
            if not problems:
                print(f"  checks: {args.entries:,} pledges paid once with their posting, audit entry and e-mail; "
                      "the round's reserved money is raised; every line matched; ledger balanced")
            passed = ratio <= TARGET_RATIO and imported["max_rss_mb"] < TARGET_RSS_MB and not problems
            print("PASS" if passed else "FAIL")
            return 0 if passed else 1
        finally:
            if not args.keep:
                drop()


if __name__ == "__main__":
    raise SystemExit(main())
