"""Refund of a failed round: the app's refund sweep against one plain ``UPDATE`` of the same rows.

It (re)creates a scratch PostgreSQL database (``greenround_refund_bench`` by default),
migrates it, and bulk-inserts in SQL (``INSERT … SELECT generate_series``) one failed round
of ``--pledges`` paid pledges (100,000 by default) from 1,000 investors, with the ledger
postings the pledge path writes for each (``pledge-<id>-paid``: Dr gateway clearing, Cr
investor funds, Dr investor funds, Cr campaign escrow). The gateway is the sandbox. Then,
in the same run:

1. a plain ``UPDATE pledges SET status = 'refunded', refunded_at = now() WHERE campaign_id = …``
   of those rows, committed; timed; then the rows are reset to ``paid`` and vacuumed;
2. the refund sweep as ``flask jobs run-due`` runs it, in process and with only that job
   ("refund failed and cancelled rounds"): per batch of 500, a gateway refund per pledge,
   the pledges, their ledger transactions and entries, audit entries and e-mails; timed.

It prints both times, their ratio (target ≤ 5×), then checks that the gateway made 100,000
refunds, one per key, that every pledge is refunded with its posting, audit entry and
e-mail, that the escrow is 0 and the ledger balanced, and prints PASS or FAIL.

    .venv/bin/python bench/refund_round.py
    .venv/bin/python bench/refund_round.py --pledges 20000 --keep
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database  # noqa: E402

TARGET_RATIO = 5.0
JOB = "refund failed and cancelled rounds"
INVESTORS = 1_000
NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1/test"),
                        help="a PostgreSQL URL the scratch database is created from (default: %(default)s)")
    parser.add_argument("--database", default="greenround_refund_bench",
                        help="scratch database name (default: %(default)s)")
    parser.add_argument("--pledges", type=int, default=100_000, help="paid pledges of the round (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    return parser.parse_args(argv)


def seed(pledges: int) -> int:
    """The owner, the investors, the failed round, its paid pledges and their postings; the campaign id."""
    from flask_migrate import upgrade
    from sqlalchemy import text

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
    campaign = Campaign(
        owner_id=owner_id, title="Solar roofs for Tartu schools", summary="s", description="d",
        category="energy_efficiency", country="EE", location="Tartu", currency="EUR", instrument_type="loan",
        interest_rate_bps=650, term_months=36, repayment="annuity", target_amount=10**13, max_amount=10**13,
        min_pledge=1, raised_amount=0, backers_count=0, reserved_amount=0,
        opens_at=NOW - timedelta(days=40), closes_at=NOW - timedelta(days=1), status="failed", risk_class="B",
        created_at=NOW - timedelta(days=50), updated_at=NOW - timedelta(days=1))
    db.session.add(campaign)
    db.session.flush()
    params = {"c": campaign.id, "i0": first, "i1": last, "n": pledges, "paid": NOW - timedelta(days=10)}
    # Amounts of 10.00-1,000.00 EUR in whole tens, as pledges cluster on round sums.
    db.session.execute(text(
        "INSERT INTO pledges (campaign_id, investor_id, amount, currency, status, payment_method, created_at, paid_at, "
        "kiis_version, gateway_reference) "
        "SELECT :c, u.i0 + g % (u.i1 - u.i0 + 1), (1 + (g * 7919) % 100) * 1000, 'EUR', 'paid', 'pm_card_visa', "
        ":paid, :paid, 1, 'pi_sbx_v_' || lpad(g::text, 20, '0') "
        "FROM generate_series(1, :n) g, (SELECT CAST(:i0 AS int) AS i0, CAST(:i1 AS int) AS i1) u"), params)
    db.session.execute(text(
        "UPDATE campaigns SET raised_amount = (SELECT sum(amount) FROM pledges WHERE campaign_id = :c), "
        "backers_count = :n WHERE id = :c"), params)
    db.session.execute(text(
        "INSERT INTO ledger_accounts (kind, owner_type, owner_id, currency) "
        "SELECT 'gateway_clearing', 'platform', 0, 'EUR' UNION ALL SELECT 'campaign_escrow', 'campaign', :c, 'EUR' "
        "UNION ALL SELECT 'investor_funds', 'user', u, 'EUR' "
        "FROM generate_series(CAST(:i0 AS int), CAST(:i1 AS int)) u"), params)
    db.session.execute(text(
        "INSERT INTO ledger_transactions (idempotency_key, description, created_at, campaign_id, pledge_id) "
        "SELECT 'pledge-' || id || '-paid', 'Pledge ' || id || ' paid', paid_at, campaign_id, id "
        "FROM pledges WHERE campaign_id = :c ORDER BY id"), params)
    db.session.execute(text(
        "INSERT INTO ledger_entries (transaction_id, account_id, amount, currency) "
        "SELECT t.id, CASE e.ord WHEN 1 THEN clearing.id WHEN 4 THEN escrow.id ELSE funds.id END, "
        "CASE WHEN e.ord IN (1, 3) THEN p.amount ELSE -p.amount END, 'EUR' "
        "FROM ledger_transactions t JOIN pledges p ON p.id = t.pledge_id "
        "JOIN ledger_accounts funds ON funds.kind = 'investor_funds' AND funds.owner_type = 'user' "
        "  AND funds.owner_id = p.investor_id "
        "JOIN ledger_accounts clearing ON clearing.kind = 'gateway_clearing' "
        "JOIN ledger_accounts escrow ON escrow.kind = 'campaign_escrow' AND escrow.owner_id = :c "
        "CROSS JOIN generate_series(1, 4) e(ord) WHERE p.campaign_id = :c ORDER BY t.id, e.ord"), params)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"seeded {pledges:,} paid pledges with their postings in {time.perf_counter() - started:.1f} s")
    return campaign.id


def vacuum(engine) -> None:
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE pledges"))


def measure_plain_update(campaign_id: int) -> float:
    """One committed ``UPDATE`` of the round's pledges to refunded; then reset to paid and vacuum."""
    from sqlalchemy import text

    from app.extensions import db

    db.session.commit()
    started = time.perf_counter()
    moved = db.session.execute(text("UPDATE pledges SET status = 'refunded', refunded_at = now() "
                                    "WHERE campaign_id = :c AND status = 'paid'"), {"c": campaign_id}).rowcount
    db.session.commit()
    elapsed = time.perf_counter() - started
    db.session.execute(text("UPDATE pledges SET status = 'paid', refunded_at = NULL WHERE campaign_id = :c"),
                       {"c": campaign_id})
    db.session.commit()
    vacuum(db.engine)
    print(f"plain UPDATE: {moved:,} rows in {elapsed:.3f} s")
    return elapsed


def measure_sweep(app) -> tuple[float, object]:
    """``flask jobs run-due`` with only the round refund sweep, in process, on a fresh sandbox."""
    from app.extensions import db
    from app.jobs.registry import all_jobs, run_due
    from app.payments.gateways.sandbox import SandboxGateway

    sandbox = app.extensions["gateway"] = SandboxGateway()
    db.session.commit()
    skip = {job.name for job in all_jobs()} - {JOB}
    started = time.perf_counter()
    (result,) = run_due(NOW, skip=skip)
    elapsed = time.perf_counter() - started
    print(f"refund sweep: {result.line()} in {elapsed:.3f} s")
    return elapsed, sandbox


def check(campaign_id: int, pledges: int, sandbox) -> list[str]:
    """What must hold afterwards; the failures, if any."""
    from sqlalchemy import func, select, text

    from app.core.audit import AuditEntry
    from app.extensions import db
    from app.notifications.models import OutboxMessage
    from app.payments import ledger
    from app.payments.models import Pledge

    problems = []
    keys = [key for method, key in sandbox.calls if method == "refund"]
    if sandbox.refunds_made != pledges or len(keys) != pledges or len(set(keys)) != pledges:
        problems.append(f"gateway: {sandbox.refunds_made:,} refunds made, {len(keys):,} calls, "
                        f"{len(set(keys)):,} keys (want {pledges:,} of each)")

    def count(statement) -> int:
        return db.session.scalar(statement) or 0

    counts = {
        "refunded pledges": count(select(func.count()).where(Pledge.status == "refunded",
                                                             Pledge.refund_reason == "round_failed")),
        "refund postings": count(select(func.count()).where(
            ledger.LedgerTransaction.idempotency_key.like("pledge-%-refunded"))),
        "refund entries": count(select(func.count()).select_from(ledger.LedgerEntry).join(ledger.LedgerTransaction)
                                .where(ledger.LedgerTransaction.idempotency_key.like("pledge-%-refunded"))) // 4,
        "audit entries": count(select(func.count()).where(AuditEntry.action == "pledge.refunded")),
        "e-mails": count(select(func.count()).where(OutboxMessage.kind == "refund")),
    }
    problems += [f"{name}: {value:,} (want {pledges:,})" for name, value in counts.items() if value != pledges]
    escrow = ledger.escrow_balance(campaign_id)
    if escrow != 0:
        problems.append(f"escrow is {escrow}, not 0")
    unbalanced = db.session.execute(text(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id "
        "HAVING sum(amount) <> 0) t")).scalar()
    total = db.session.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger_entries")).scalar()
    if unbalanced or total:
        problems.append(f"ledger: {unbalanced} unbalanced transactions, entries sum to {total}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url, drop = scratch_database(args.admin_url, args.database)
    try:
        from app import create_app
        from app.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAYMENT_GATEWAY": "sandbox", "SANDBOX_JOURNAL": None})
        with app.app_context():
            campaign_id = seed(args.pledges)
            plain = measure_plain_update(campaign_id)
            sweep, sandbox = measure_sweep(app)
            db.session.rollback()
            problems = check(campaign_id, args.pledges, sandbox)
            db.session.remove()
            db.engine.dispose()
        ratio = sweep / plain
        print(f"refund sweep {sweep:.2f} s / plain UPDATE {plain:.2f} s = {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x)")
        for problem in problems:
            print(f"  check failed: {problem}")
        if not problems:
            print(f"  checks: {args.pledges:,} refunds made once, escrow 0, ledger balanced; every pledge refunded "
                  "with its posting, audit entry and e-mail")
        passed = ratio <= TARGET_RATIO and not problems
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        if not args.keep:
            drop()


if __name__ == "__main__":
    raise SystemExit(main())
