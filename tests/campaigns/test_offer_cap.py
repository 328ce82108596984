"""The offer cap per raiser (ECSP Art. 1(2)(c), 259-FZ Art. 6): counted in the
jurisdiction's currency at the approval day's recorded rate, per legal entity, with the
raiser's registration number checked where python-stdnum knows the register."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.campaigns import rates
from app.campaigns.models import Campaign, ExchangeRate
from app.core.audit import AuditEntry
from app.extensions import db
from tests.factories import NOW, CampaignFactory, UserFactory

pytestmark = pytest.mark.usefixtures("frozen_clock")

ESTONIAN = {"legal_form": "company", "legal_name": "Baltic Retrofit OÜ", "registration_country": "EE",
            "registration_number": "12345678"}
RUSSIAN = {"legal_form": "company", "legal_name": "ООО «Невский свет»", "registration_country": "RU",
           "registration_number": "7812345675"}

ECB_FILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube>
    <Cube time="2026-11-25"><Cube currency="USD" rate="1.0512"/><Cube currency="SEK" rate="11.4725"/>
      <Cube currency="PLN" rate="4.2675"/></Cube>
    <Cube time="2026-11-24"><Cube currency="SEK" rate="11.4698"/></Cube>
  </Cube>
</gesmes:Envelope>"""

CBR_FILE = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="25.11.2026" name="Foreign Currency Market">
  <Valute ID="R01239"><NumCode>978</NumCode><CharCode>EUR</CharCode><Nominal>1</Nominal>
    <Name>Евро</Name><Value>100,0000</Value></Valute>
  <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>
    <Name>Доллар США</Name><Value>95,1234</Value></Valute>
  <Valute ID="R01770"><NumCode>752</NumCode><CharCode>SEK</CharCode><Nominal>10</Nominal>
    <Name>Шведских крон</Name><Value>91,2340</Value></Valute>
</ValCurs>""".encode("cp1251")


def problem(response, status):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def submitted(owner, **kwargs) -> Campaign:
    defaults = {"status": "submitted", "opens_at": None, "risk_class": None, "closes_at": NOW + timedelta(days=30)}
    return CampaignFactory(owner=owner, **{**defaults, **kwargs})


def approve(client, headers, campaign):
    return client.post(f"/api/v1/campaigns/{campaign.id}/approve", json={"risk_class": "B"}, headers=headers)


def test_a_rub_offer_in_an_eu_deployment_is_counted_in_eur_at_the_approval_days_rate(client, operator_headers):
    """RUB 900M passed when the cap followed the currency; at RUB 100 per EUR it is EUR 9M."""
    rates.import_file(CBR_FILE, now=NOW)
    big = submitted(UserFactory(roles=["owner"]), currency="RUB", target_amount=800_000_000_00,
                    max_amount=900_000_000_00, min_pledge=1_000_00)
    body = problem(approve(client, operator_headers, big), 422)
    message = body["errors"]["max_amount"][0]
    assert "€5,000,000.00" in message and "€9,000,000.00" in message and "RUB per EUR 100 on 2026-11-25" in message
    assert db.session.get(Campaign, big.id).status == "submitted"

    fits = submitted(UserFactory(roles=["owner"]), currency="RUB", target_amount=400_000_000_00,
                     max_amount=500_000_000_00, min_pledge=1_000_00)
    assert approve(client, operator_headers, fits).status_code == 200
    stored = db.session.get(Campaign, fits.id)
    rate = db.session.get(ExchangeRate, stored.cap_rate_id)
    assert (rate.base, rate.quote, rate.on, rate.rate_micro) == ("EUR", "RUB", date(2026, 11, 25), 100_000_000)
    assert rate.source == rates.CBR_SOURCE
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.approve",
                                                        AuditEntry.subject_id == str(fits.id))).one()
    assert entry.details["cap_rate"] == {"base": "EUR", "quote": "RUB", "on": "2026-11-25", "rate": "100",
                                         "source": rates.CBR_SOURCE}


def test_an_approved_offer_keeps_the_weight_of_its_own_approval_day(client, operator_headers):
    """A later, weaker rouble does not make an approved RUB offer count for less."""
    owner = UserFactory(roles=["owner"])
    old_rate = rates.record("EUR", "RUB", NOW.date() - timedelta(days=30), "50", "Bank of Russia", now=NOW)
    CampaignFactory(owner=owner, currency="RUB", target_amount=150_000_000_00, max_amount=200_000_000_00,
                    min_pledge=1_000_00, cap_rate_id=old_rate.id)  # EUR 4M at 50, EUR 2M at today's 100
    rates.record("EUR", "RUB", NOW.date(), "100", "Bank of Russia", now=NOW)
    second = submitted(owner, target_amount=1_500_000_00, max_amount=1_500_000_00)
    body = problem(approve(client, operator_headers, second), 422)
    assert "€5,500,000.00" in body["errors"]["max_amount"][0]


def test_approval_without_a_recorded_rate_is_refused_and_names_the_missing_rate(client, operator_headers):
    campaign = submitted(UserFactory(roles=["owner"]), currency="RUB", target_amount=10_000_000_00,
                         max_amount=10_000_000_00, min_pledge=1_000_00)
    rates.record("EUR", "RUB", NOW.date() - timedelta(days=5), "100", "Bank of Russia", now=NOW)  # too old
    body = problem(approve(client, operator_headers, campaign), 409)
    assert "flask rates" in body["errors"]["rate"][0]
    assert db.session.get(Campaign, campaign.id).status == "submitted"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "campaign.approve")) == 0


def test_two_accounts_of_one_registered_company_share_the_cap(client, operator_headers, api_token):
    first = UserFactory(roles=["owner"])
    CampaignFactory(owner=first, max_amount=4_000_000_00, target_amount=3_000_000_00, owner_legal_form="company",
                    owner_legal_name="Baltic Retrofit OÜ", owner_registration_country="EE",
                    owner_registration_number="12345678")
    UserFactory(email="second.account@example.org", roles=["owner"])
    headers = api_token("second.account@example.org")
    from tests.campaigns.conftest import VALID

    payload = {**VALID, "max_amount": 1_500_000_00, "target_amount": 1_000_000_00,
               "owner_entity": {**ESTONIAN, "registration_number": " 1234 5678 "}}
    created = client.post("/api/v1/campaigns", json=payload, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["owner_entity"]["registration_number"] == "12345678"
    body = problem(client.post(f"/api/v1/campaigns/{created.get_json()['id']}/submit", headers=headers), 422)
    assert "€5,500,000.00" in body["errors"]["max_amount"][0]
    # Without the entity, the second account's own campaigns are all that count.
    other = client.post("/api/v1/campaigns", json={**payload, "owner_entity": None}, headers=headers)
    assert client.post(f"/api/v1/campaigns/{other.get_json()['id']}/submit", headers=headers).status_code == 200


@pytest.mark.parametrize(("entity", "field"), [
    ({**ESTONIAN, "registration_number": "12345679"}, "registration_number"),  # registrikood check digit
    ({**RUSSIAN, "registration_number": "78123456751"}, "registration_number"),  # 11 digits
    ({**RUSSIAN, "legal_form": "sole_proprietor"}, "registration_number"),  # a company's 10-digit ИНН
    ({**RUSSIAN, "registration_number": "7812345670"}, "registration_number"),  # check digit
    ({**ESTONIAN, "legal_form": "trust"}, "legal_form"),
    ({**ESTONIAN, "registration_country": "XX"}, "registration_country"),
    ({k: v for k, v in ESTONIAN.items() if k != "legal_name"}, "legal_name"),
    ({**ESTONIAN, "registration_country": "LT", "registration_number": "<script>"}, "registration_number"),
])
def test_a_bad_raiser_entity_is_refused_with_the_field_named(client, owner_headers, payload, entity, field):
    before = db.session.scalar(select(func.count()).select_from(Campaign))
    body = problem(client.post("/api/v1/campaigns", json={**payload, "owner_entity": entity}, headers=owner_headers),
                   422)
    assert f"owner_entity.{field}" in body["errors"], body["errors"]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == before


def test_in_a_russian_deployment_the_raiser_needs_an_inn_and_the_cap_counts_rub(app, client, owner_headers, payload):
    app.config["PLATFORM_JURISDICTION"] = "RU"
    try:
        payload.update(currency="RUB", target_amount=900_000_000_00, max_amount=1_000_000_000_00,
                       min_pledge=1_000_00)
        draft = client.post("/api/v1/campaigns", json=payload, headers=owner_headers).get_json()
        body = problem(client.post(f"/api/v1/campaigns/{draft['id']}/submit", headers=owner_headers), 422)
        assert "ИНН" in body["errors"]["owner_entity"][0]
        client.patch(f"/api/v1/campaigns/{draft['id']}", json={"owner_entity": RUSSIAN}, headers=owner_headers)
        assert client.post(f"/api/v1/campaigns/{draft['id']}/submit", headers=owner_headers).status_code == 200
        second = client.post("/api/v1/campaigns", json={**payload, "max_amount": 1_000_00, "target_amount": 1_000_00,
                                                        "owner_entity": RUSSIAN}, headers=owner_headers).get_json()
        body = problem(client.post(f"/api/v1/campaigns/{second['id']}/submit", headers=owner_headers), 422)
        assert "1 000 000 000" in body["errors"]["max_amount"][0].replace("\xa0", " ").replace(",", " ")
    finally:
        app.config["PLATFORM_JURISDICTION"] = "EU"


def test_an_operator_may_not_review_a_campaign_of_their_own_legal_entity(client, api_token):
    operator = UserFactory(email="op.owner@example.org", roles=["operator", "owner"])
    CampaignFactory(owner=operator, status="draft", owner_legal_form="company", owner_legal_name="Baltic Retrofit OÜ",
                    owner_registration_country="EE", owner_registration_number="12345678")
    colleague_draft = submitted(UserFactory(roles=["owner"]), owner_legal_form="company",
                                owner_legal_name="Baltic Retrofit OÜ", owner_registration_country="EE",
                                owner_registration_number="12345678")
    headers = api_token("op.owner@example.org")
    body = problem(approve(client, headers, colleague_draft), 403)
    assert "legal entity" in body["detail"]
    problem(client.post(f"/api/v1/campaigns/{colleague_draft.id}/reject", json={"reason": "Not enough detail"},
                        headers=headers), 403)
    assert db.session.get(Campaign, colleague_draft.id).status == "submitted"


def test_rates_files_import_idempotently_and_a_changed_rate_is_refused(runner, tmp_path):
    ecb, cbr = tmp_path / "eurofxref-hist.xml", tmp_path / "XML_daily.asp"
    ecb.write_bytes(ECB_FILE)
    cbr.write_bytes(CBR_FILE)
    for path in (ecb, cbr, ecb):
        result = runner.invoke(args=["rates", "import", str(path)])
        assert result.exit_code == 0, result.output
    assert "3 rates for 2 day(s), 2026-11-24 to 2026-11-25" in runner.invoke(args=["rates", "import", str(ecb)]).output
    assert db.session.scalar(select(func.count()).select_from(ExchangeRate)) == 5
    sek = rates.rate_on("SEK", "RUB", date(2026, 11, 27))  # per 10 kronor in the file: per one here
    assert (sek.base, sek.quote, sek.rate_micro, sek.source) == ("SEK", "RUB", 9_123_400, rates.CBR_SOURCE)
    assert rates.rate_on("PLN", "EUR", date(2026, 11, 29)).rate_micro == 4_267_500  # either direction
    assert rates.rate_on("EUR", "PLN", date(2026, 11, 30)) is None  # five days on: too old to use

    changed = runner.invoke(args=["rates", "set", "EUR", "SEK", "11.5", "--on", "2026-11-25", "--source", "typo"])
    assert changed.exit_code != 0 and "11.4725" in changed.output
    garbage = tmp_path / "rates.xml"
    for content in (b"not xml", b"<rates/>", b'<ValCurs Date="yesterday"/>'):
        garbage.write_bytes(content)
        result = runner.invoke(args=["rates", "import", str(garbage)])
        assert result.exit_code != 0 and "rates file" in result.output
    for args in (["EUR", "EUR", "1"], ["EUR", "RUB", "-3"], ["EUR", "RUB", "abc"], ["EUR", "XYZ", "1"]):
        result = runner.invoke(args=["rates", "set", *args, "--source", "Bank of Russia"])
        assert result.exit_code != 0, args
    assert db.session.scalar(select(func.count()).select_from(ExchangeRate)) == 5


def test_conversion_rounds_up_so_rounding_never_passes_the_cap():
    rate = ExchangeRate(base="EUR", quote="RUB", rate_micro=98_123_400)
    assert rates.convert_up(98_12, "RUB", "EUR", rate) == 1_00  # 0.99998 EUR
    assert rates.convert_up(98_13, "RUB", "EUR", rate) == 1_01
    assert rates.convert_up(1_00, "EUR", "RUB", rate) == 98_13  # RUB 98.1234
    assert rates.convert_up(1_000_00, "EUR", "RUB", rate) == 98_123_40
    assert Decimal(rates.describe(ExchangeRate(base="EUR", quote="RUB", on=date(2026, 1, 2), rate_micro=98_123_400,
                                               source="x"))["rate"]) == Decimal("98.1234")


def test_a_free_form_registration_number_has_one_spelling():
    from app.campaigns.entities import normalise

    assert {normalise("DE", n, "company") for n in ("HRB 123", "hrb-123", "HRB.123", "ＨＲＢ１２３")} == {"HRB123"}
    for bad in ("HRB \u0661\u0662\u0663", "<script>", "x"):
        with pytest.raises(ValueError):
            normalise("DE", bad, "company")


def test_an_offer_approved_before_rates_were_stored_counts_at_its_approval_days_rate(client, operator_headers):
    owner = UserFactory(roles=["owner"])
    rates.record("EUR", "RUB", NOW.date() - timedelta(days=60), "50", "Bank of Russia", now=NOW)
    CampaignFactory(owner=owner, currency="RUB", target_amount=150_000_000_00, max_amount=200_000_000_00,
                    min_pledge=1_000_00, approved_at=NOW - timedelta(days=60))  # EUR 4M at 50
    rates.record("EUR", "RUB", NOW.date(), "100", "Bank of Russia", now=NOW)
    second = submitted(owner, target_amount=1_500_000_00, max_amount=1_500_000_00)
    assert "€5,500,000.00" in problem(approve(client, operator_headers, second), 422)["errors"]["max_amount"][0]


@pytest.mark.parametrize("rate", ["Infinity", "1e999999999", "NaN"])
def test_an_impossible_rate_is_a_message_not_a_traceback(runner, rate):
    result = runner.invoke(args=["rates", "set", "EUR", "RUB", rate, "--source", "Bank of Russia"])
    assert result.exit_code == 1 and "positive decimal" in result.output
    assert db.session.scalar(select(func.count()).select_from(ExchangeRate)) == 0


def test_a_rates_file_with_a_zero_nominal_is_refused(runner, tmp_path):
    bad = tmp_path / "XML_daily.asp"
    bad.write_bytes(CBR_FILE.replace(b"<Nominal>1</Nominal>", b"<Nominal>0</Nominal>", 1))
    result = runner.invoke(args=["rates", "import", str(bad)])
    assert result.exit_code == 1 and "rates file" in result.output
