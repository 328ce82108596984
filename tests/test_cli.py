"""``flask users create`` and ``flask demo seed``."""

from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.services import authenticate
from app.campaigns.models import Campaign
from app.extensions import db


def test_users_create_with_several_roles(runner):
    result = runner.invoke(args=["users", "create", "--email", "Op@Example.org", "--password", "long enough pw",
                                 "--role", "operator", "--role", "regulator"])
    assert result.exit_code == 0, result.output
    assert "operator, regulator" in result.output
    user = authenticate("op@example.org", "long enough pw")
    assert user is not None and user.role_names == {"operator", "regulator"}


def test_users_create_refuses_bad_input_with_a_message(runner):
    bad_role = runner.invoke(args=["users", "create", "--email", "a@example.org", "--password", "long enough pw",
                                   "--role", "king"])
    assert bad_role.exit_code == 2 and "king" in bad_role.output
    short = runner.invoke(args=["users", "create", "--email", "a@example.org", "--password", "short",
                                "--role", "investor"])
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    bad_email = runner.invoke(args=["users", "create", "--email", "nope", "--password", "long enough pw",
                                    "--role", "investor"])
    assert bad_email.exit_code == 1 and "valid e-mail" in bad_email.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_refuses_a_taken_email(runner):
    args = ["users", "create", "--email", "a@example.org", "--password", "long enough pw", "--role", "investor"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=args)
    assert again.exit_code == 1 and "already exists" in again.output


def test_demo_seed_is_idempotent_and_prints_credentials(runner, client):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "operator@demo.greenround.eu" in first.output and "greenround-demo" in first.output
    assert "13 created" in first.output
    users = db.session.scalar(select(func.count()).select_from(User))
    second = runner.invoke(args=["demo", "seed"])
    assert "0 created, 13 already there" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    currencies = set(db.session.scalars(select(Campaign.currency)))
    statuses = set(db.session.scalars(select(Campaign.status)))
    assert currencies == {"EUR", "RUB"}
    assert {"live", "approved", "repaying", "failed", "draft", "submitted"} <= statuses
    home = client.get("/").get_data(as_text=True)
    assert "LED street lighting for Vasileostrovsky district" in home
    assert "Community wind turbine on Saaremaa" not in home  # submitted, not public yet
    for role in ("investor", "owner", "fund_manager", "operator", "regulator"):
        assert role in first.output


def test_demo_money_is_real_and_balances(runner, api_token):
    from app.demo import DEMO_PASSWORD
    from app.loans.models import InstalmentShare
    from app.payments.models import Pledge
    from tests.payments.conftest import assert_ledger_invariants

    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    db.session.expire_all()
    assert_ledger_invariants()
    statuses = set(db.session.scalars(select(Pledge.status)))
    assert {"paid", "settled", "refunded"} <= statuses
    assert db.session.scalar(select(func.count()).select_from(InstalmentShare)) > 0
    from app.loans.models import Instalment
    from app.wallets.models import Withdrawal
    from tests.payments.conftest import assert_wallet_invariants

    assert_wallet_invariants()
    # The money-back story: reinvested from the wallet, withdrawn and seen paid on a statement,
    # a bank transfer paid by the same statement, and the loans collected by mandate.
    assert set(db.session.scalars(select(Withdrawal.status))) == {"paid"}
    assert set(db.session.scalars(select(Pledge.status).where(Pledge.payment_method.in_(["wallet", "bank_transfer"])))
               ) == {"paid"}
    keys = list(db.session.scalars(select(Instalment.paid_key).where(Instalment.status == "paid")))
    assert keys and all("-charge-mandate-" in key for key in keys)
    for email in ("investor@demo.greenround.eu", "fund@demo.greenround.eu"):
        headers = api_token(email, DEMO_PASSWORD)
        portfolio = runner.app.test_client().get("/api/v1/portfolio", headers=headers).get_json()
        assert portfolio["holdings"], email
        assert portfolio["received"], email


def test_demo_sets_expected_default_rates_and_answers_a_complaint(runner):
    from app.complaints.models import Complaint
    from app.disclosures.models import ExpectedDefaultRate

    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert sorted(db.session.scalars(select(ExpectedDefaultRate.risk_class))) == ["A", "B", "C", "D", "E"]
    assert [(c.status, c.decision) for c in db.session.scalars(select(Complaint))] == [("resolved", "upheld")]
    assert "Baltic SME loan defaults" in runner.app.test_client().get("/transparency").get_data(as_text=True)
