"""The demo seed leaves a ready-to-invest citizen and a fund manager with a fund."""

from app.accounts.services import find_by_email
from app.core.clock import now
from app.investors import services
from app.investors.demo import DEMO_FUND


def test_demo_investor_is_ready_and_the_fund_manager_has_the_fund(runner):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    investor = find_by_email("investor@demo.greenround.eu")
    readiness = services.readiness(investor, now())
    assert readiness.ready, readiness.steps
    assert services.get_profile(investor).identity_status == "verified"
    assert services.valid_pass(investor, now()) is not None
    fund = services.fund_for(find_by_email("fund@demo.greenround.eu"))
    assert fund is not None and fund.name == DEMO_FUND == "Itämeri Green Fund"

    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0, again.output
    assert services.fund_for(find_by_email("fund@demo.greenround.eu")).id == fund.id
