"""Benchmark: the fund portfolio page with 50 and with 5,000 holdings, in one run.

    .venv/bin/python bench/portfolio_page.py [--small 50] [--large 5000] [--repeat 7]

Builds one SQLite database (in a temporary folder; or ``--database-url`` for PostgreSQL)
holding both funds side by side, so
the small fund is measured on a platform as big as the large one. Each fund's holdings
are spread over campaigns with HOLDINGS_PER_CAMPAIGN of the fund's pledges and
OTHER_BACKERS citizens' pledges each (the expected shares are split over every holder of
a campaign, so the others count); loans of 12–60 months started over the last three
years, some in arrears, some in default, some repaid, one in ten in RUB.

Prints, for each size, the median page time (wall clock, and the process's CPU time,
which a busy shared machine disturbs less), the SQL queries per page, the page size and
how many full garbage collections the timed pages set off, then the ratios large/small.
Target: ratio ≤ 3 and the same number of queries.
"""

import argparse
import gc
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import create_engine, event, insert, text
from werkzeug.security import generate_password_hash

from app import create_app
from app.accounts.models import User, UserRole
from app.campaigns.models import Campaign, CampaignSdg
from app.campaigns.schedule import instalments as plan
from app.core.money import allocate
from app.extensions import db
from app.investors.models import Fund, FundManager
from app.loans.models import Instalment, InstalmentShare, Loan
from app.loans.services import add_months, rebuild_repayment_totals
from app.payments.models import Pledge

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PASSWORD = "bench password 1"  # noqa: S105
HOLDINGS_PER_CAMPAIGN = 5
OTHER_BACKERS = 5
CATEGORIES = ("energy_efficiency", "renewable_energy", "clean_transport", "clean_shipping", "water",
              "circular_economy", "industrial_symbiosis")
COUNTRIES = ("EE", "LV", "LT", "FI", "SE", "DK", "DE", "PL")
TERMS = (12, 24, 36, 48, 60)


class Ids:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.counters[table] = self.counters.get(table, 0) + 1
        return self.counters[table]


def build_fund(ids: Ids, name: str, holdings: int, *, owner_id: int, citizens: list[int], password_hash: str,
               seed: int) -> tuple[str, int]:
    """A fund with a manager and ``holdings`` settled pledges; returns (manager e-mail, fund id)."""
    manager_id = ids.next("users")
    email = f"manager-{manager_id}@bench.example"
    db.session.execute(insert(User), [{"id": manager_id, "email": email, "name": f"Manager of {name}",
                                       "country": "FI", "password_hash": password_hash,
                                       "session_token": f"bench-{manager_id}", "created_at": NOW}])
    db.session.execute(insert(UserRole), [{"user_id": manager_id, "role": "fund_manager"}])
    fund_id = ids.next("funds")
    db.session.execute(insert(Fund), [{"id": fund_id, "name": name, "country": "FI", "currency": "EUR",
                                       "created_at": NOW}])
    db.session.execute(insert(FundManager), [{"fund_id": fund_id, "user_id": manager_id, "added_at": NOW}])

    campaigns, sdgs, pledges, loans, instalments, shares = [], [], [], [], [], []
    made = 0
    n = 0
    while made < holdings:
        n += 1
        k = seed + n
        fund_pledges = min(HOLDINGS_PER_CAMPAIGN, holdings - made)
        made += fund_pledges
        currency = "RUB" if k % 10 == 0 else "EUR"
        unit = 100 if currency == "EUR" else 10_000
        term = TERMS[k % len(TERMS)]
        rate = 400 + (k % 7) * 75
        kind = "bullet" if k % 6 == 0 else "annuity"
        months_ago = k % 37
        starts_at = add_months(NOW, -months_ago) - timedelta(days=k % 27)
        campaign_id = ids.next("campaigns")
        holders = [(manager_id, fund_id, (500 + (k * 37 + j * 113) % 4500) * unit) for j in range(fund_pledges)]
        holders += [(citizens[(k + j) % len(citizens)], None, (50 + (k * 53 + j * 71) % 950) * unit)
                    for j in range(OTHER_BACKERS)]
        principal = sum(a for _, _, a in holders)
        campaigns.append({
            "id": campaign_id, "owner_id": owner_id, "title": f"{name} project {n}", "summary": "Bench.",
            "description": "Bench.", "category": CATEGORIES[k % len(CATEGORIES)],
            "country": COUNTRIES[k % len(COUNTRIES)], "location": "", "currency": currency,
            "instrument_type": "loan", "interest_rate_bps": rate, "term_months": term, "repayment": kind,
            "target_amount": principal, "max_amount": principal, "min_pledge": 50 * unit,
            "raised_amount": principal, "backers_count": len(holders), "reserved_amount": 0,
            "opens_at": starts_at - timedelta(days=60), "closes_at": starts_at - timedelta(days=10),
            "status": "repaying", "risk_class": "ABCDE"[k % 5], "co2_tonnes_per_year": 50.0 + k % 200,
            "energy_mwh_per_year": 100.0 + k % 900, "created_at": starts_at - timedelta(days=90),
            "updated_at": starts_at})
        sdgs += [{"campaign_id": campaign_id, "sdg": s} for s in {7, 13, 9 + k % 3}]
        pledge_rows = []
        for investor_id, fid, amount in holders:
            pledge_id = ids.next("pledges")
            paid_at = starts_at - timedelta(days=20)
            pledge_rows.append((pledge_id, investor_id, fid, amount))
            pledges.append({"id": pledge_id, "campaign_id": campaign_id, "investor_id": investor_id,
                            "fund_id": fid, "amount": amount, "currency": currency, "status": "settled",
                            "payment_method": "pm_card_visa", "created_at": paid_at, "paid_at": paid_at,
                            "settled_at": starts_at})
        loan_id = ids.next("loans")
        schedule = plan(principal, rate, term, kind)
        paid = min(months_ago, term)
        overdue = k % 11 == 0 and paid < term
        defaulted = k % 29 == 0 and paid < term
        if overdue or defaulted:
            paid = max(0, paid - 2)
        status = "defaulted" if defaulted else "overdue" if overdue else "completed" if paid == term else "active"
        loans.append({"id": loan_id, "campaign_id": campaign_id, "principal": principal, "currency": currency,
                      "interest_rate_bps": rate, "term_months": term, "repayment": kind, "status": status,
                      "starts_at": starts_at, "defaulted_at": NOW if defaulted else None,
                      "completed_at": NOW if status == "completed" else None})
        weights = [a for _, _, _, a in pledge_rows]
        for item in schedule:
            instalment_id = ids.next("instalments")
            due_at = add_months(starts_at, item.number)
            is_paid = item.number <= paid
            i_status = ("paid" if is_paid else "overdue" if due_at < NOW - timedelta(days=30)
                        else "due" if due_at <= NOW else "scheduled")
            instalments.append({"id": instalment_id, "loan_id": loan_id, "number": item.number, "due_at": due_at,
                                "principal": item.principal, "interest": item.interest, "status": i_status,
                                "paid_at": due_at if is_paid else None})
            if is_paid:
                for (pledge_id, investor_id, fid, _), pp, ip in zip(
                        pledge_rows, allocate(item.principal, weights), allocate(item.interest, weights),
                        strict=True):
                    shares.append({"instalment_id": instalment_id, "pledge_id": pledge_id,
                                   "investor_id": investor_id, "fund_id": fid, "principal": pp, "interest": ip,
                                   "currency": currency, "paid_at": due_at})
    for model, rows in ((Campaign, campaigns), (CampaignSdg, sdgs), (Pledge, pledges), (Loan, loans),
                        (Instalment, instalments), (InstalmentShare, shares)):
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[start:start + 5000])
    db.session.commit()
    return email, fund_id


def login(client, email: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303), response.status_code


def measure(app, engine, email: str, fund_id: int, repeat: int) -> dict:
    """Median page time; each request runs in its own app context, as in production."""
    client = app.test_client()
    login(client, email)
    url = f"/portfolio/funds/{fund_id}"
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    def full_collections(phase: str, info: dict) -> None:
        # A collection of the whole heap costs some 200 ms in this app: objects that
        # outlive young collections by the thousand per page show up here.
        if phase == "start" and info["generation"] == 2:
            collections.append(1)

    for _ in range(2):  # warm up: templates compiled, caches filled
        assert client.get(url).status_code == 200
    times, cpu, collections = [], [], []
    gc.callbacks.append(full_collections)
    for _ in range(repeat):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
    gc.callbacks.remove(full_collections)
    return {"median": statistics.median(times), "best": min(times), "cpu": statistics.median(cpu),
            "queries": len(statements), "bytes": len(response.data), "full_gc": len(collections)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use (its schema is reset) "
                                               "instead of a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite"
        if args.database_url:
            url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", args.database_url)
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False,
                          "CLOCK": lambda: NOW, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade(directory=str(Path(app.root_path).parent / "migrations"), revision="heads")
            started = time.perf_counter()
            ids = Ids()
            ids.counters.update({"users": 1000})
            password_hash = generate_password_hash(PASSWORD)
            owner_id = ids.next("users")
            citizens = [ids.next("users") for _ in range(20)]
            db.session.execute(insert(User), [{"id": uid, "email": f"u{uid}@bench.example", "name": f"User {uid}",
                                               "country": "EE", "password_hash": password_hash,
                                               "session_token": f"bench-{uid}", "created_at": NOW}
                                              for uid in [owner_id, *citizens]])
            large = build_fund(ids, "Large Fund", args.large, owner_id=owner_id, citizens=citizens,
                               password_hash=password_hash, seed=0)
            small = build_fund(ids, "Small Fund", args.small, owner_id=owner_id, citizens=citizens,
                               password_hash=password_hash, seed=7)
            rebuild_repayment_totals()  # the shares were inserted directly, not through ``receive``
            db.session.commit()
            print(f"data: {ids.counters.get('campaigns', 0)} campaigns, {ids.counters.get('pledges', 0)} pledges, "
                  f"{ids.counters.get('instalments', 0)} instalments, built in {time.perf_counter() - started:.1f} s")
            if db.engine.dialect.name == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            engine = db.engine
        gc.collect()  # the data build's garbage is no part of a page view
        results = {}
        for label, (email, fund_id), holdings in (("small", small, args.small), ("large", large, args.large)):
            results[label] = r = measure(app, engine, email, fund_id, args.repeat)
            print(f"{holdings:>6} holdings: median {r['median'] * 1000:7.1f} ms (best {r['best'] * 1000:.1f} ms, "
                  f"CPU {r['cpu'] * 1000:.1f} ms), {r['queries']} SQL queries, {r['bytes'] / 1024:.0f} KiB, "
                  f"{r['full_gc']} full garbage collections in {args.repeat} pages")
        ratio = results["large"]["median"] / results["small"]["median"]
        cpu_ratio = results["large"]["cpu"] / results["small"]["cpu"]
        same = results["large"]["queries"] == results["small"]["queries"]
        print(f"ratio {args.large}/{args.small} holdings: {ratio:.2f}x wall clock, {cpu_ratio:.2f}x CPU "
              f"(target <= 3x); SQL queries per page {'equal' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
