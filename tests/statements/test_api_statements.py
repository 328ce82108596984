"""Bank statements through the API: a camt.053 pays bank-transfer pledges and settles
withdrawals; the same entries twice change nothing; anything else is a 422 that keeps nothing."""

import io

import pytest
from sqlalchemy import func, select

from app.banking.pain001 import DebtorAccount, build_credit_transfer
from app.core.audit import AuditEntry
from app.extensions import db
from app.payments.models import Pledge
from app.statements.models import BankStatement, StatementLine
from tests.banking.camt_samples import OUR_IBAN, PAYER_IBAN, Entry, statement
from tests.banking.test_camt053 import BILLION_LAUGHS
from tests.factories import UserFactory
from tests.payments.test_api_pledges import assert_problem
from tests.payments.test_wallet_and_transfer_pledges import TRANSFER, credit_wallet, wallet
from tests.wallets.test_api_wallet import ACCOUNT


@pytest.fixture
def post_file(client, api_token):
    def post(user, data: bytes, filename: str = "statement.xml"):
        return client.post("/api/v1/bank-statements", data={"file": (io.BytesIO(data), filename)},
                           headers=api_token(user.email), content_type="multipart/form-data")
    return post


def pending_transfer(pledge_api, investor, campaign, amount: int = 500_00) -> dict:
    body = pledge_api(investor, campaign, TRANSFER | {"amount": amount}).get_json()
    assert body["status"] == "pending_payment"
    return body


def credit(ref: str, amount: str = "500.00", bank_ref: str = "ASR-1", **kw) -> Entry:
    return Entry(amount=amount, ustrd=f"GreenRound {ref}", bank_ref=bank_ref, **kw)


def stored() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(BankStatement)),
            db.session.scalar(select(func.count()).select_from(StatementLine)))


def status_of(pledge_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Pledge, pledge_id).status


# --- paying pledges ---------------------------------------------------------------------------


def test_a_credit_with_the_reference_and_amount_pays_the_pledge(post_file, operator, pledge_api, investor,
                                                                campaign):
    pledge = pending_transfer(pledge_api, investor, campaign)
    ref = pledge["payment_instructions"]["reference"]
    response = post_file(operator, statement([credit(ref)]))
    assert response.status_code == 201, response.get_json()
    assert {k: response.get_json()[k] for k in ("entries", "matched", "unmatched", "duplicates")} == {
        "entries": 1, "matched": 1, "unmatched": 0, "duplicates": 0}
    assert status_of(pledge["id"]) == "paid"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "bank_statement.imported")) == 1


def test_the_same_statement_twice_pays_once_and_counts_duplicates(post_file, operator, pledge_api, investor,
                                                                  campaign):
    ref = pending_transfer(pledge_api, investor, campaign)["payment_instructions"]["reference"]
    data = statement([credit(ref)])
    post_file(operator, data)
    again = post_file(operator, data).get_json()
    assert (again["entries"], again["matched"], again["duplicates"]) == (1, 0, 1)
    assert stored() == (2, 1)


def test_a_second_credit_for_a_paid_pledge_is_kept_unmatched_never_a_second_payment(
        post_file, operator, pledge_api, investor, campaign):
    ref = pending_transfer(pledge_api, investor, campaign)["payment_instructions"]["reference"]
    first = post_file(operator, statement([credit(ref, bank_ref="ASR-1"), credit(ref, bank_ref="ASR-2")]))
    assert (first.get_json()["matched"], first.get_json()["unmatched"]) == (1, 1)
    later = post_file(operator, statement([credit(ref, bank_ref="ASR-3")])).get_json()
    assert (later["matched"], later["unmatched"]) == (0, 1)


@pytest.mark.parametrize("entry", [
    credit("{ref}", amount="499.99"),  # another amount
    Entry(amount="500.00", ustrd="no reference at all"),
    Entry(amount="500.00", ustrd=None),
    credit("RF18539007547034"),  # a valid reference that is nobody's
])
def test_entries_that_match_nothing_are_kept_unmatched_and_move_no_money(post_file, operator, pledge_api,
                                                                        investor, campaign, entry):
    pledge = pending_transfer(pledge_api, investor, campaign)
    if entry.ustrd and "{ref}" in entry.ustrd:
        entry.ustrd = entry.ustrd.format(ref=pledge["payment_instructions"]["reference"])
    body = post_file(operator, statement([entry])).get_json()
    assert (body["matched"], body["unmatched"]) == (0, 1)
    assert status_of(pledge["id"]) == "pending_payment"


def test_a_reference_with_a_typo_never_pays_another_pledge(post_file, operator, pledge_api, investor, campaign):
    pledge = pending_transfer(pledge_api, investor, campaign)
    ref = pledge["payment_instructions"]["reference"]
    typo = ref[:-1] + ("0" if ref[-1] != "0" else "1")
    assert post_file(operator, statement([credit(typo)])).get_json()["unmatched"] == 1
    assert status_of(pledge["id"]) == "pending_payment"


def test_a_credit_for_an_expired_pledge_stays_unmatched(post_file, operator, pledge_api, investor, campaign,
                                                        clock):
    from datetime import timedelta

    from app.payments.jobs import expire_unpaid

    pledge = pending_transfer(pledge_api, investor, campaign)
    clock["now"] += timedelta(days=6)
    expire_unpaid.run(clock["now"])
    assert status_of(pledge["id"]) == "expired"
    body = post_file(operator, statement([credit(pledge["payment_instructions"]["reference"])])).get_json()
    assert (body["matched"], body["unmatched"]) == (0, 1)
    assert status_of(pledge["id"]) == "expired"


# --- withdrawals ------------------------------------------------------------------------------


def sent_withdrawal(api, investor, operator, amount: int = 200_00) -> dict:
    credit_wallet(500_00, user=investor)
    api(investor, "PUT", "/me/bank-account", ACCOUNT)
    withdrawal = api(investor, "POST", "/me/withdrawals", {"amount": amount, "currency": "EUR"}).get_json()
    assert api(operator, "POST", "/withdrawals/batches", {"currency": "EUR"}).status_code == 201
    return withdrawal


def withdrawal_status(api, investor) -> str:
    return api(investor, "GET", "/me/withdrawals").get_json()["items"][0]["status"]


def test_a_debit_with_the_end_to_end_id_marks_the_withdrawal_paid(api, post_file, operator, investor):
    w = sent_withdrawal(api, investor, operator)
    body = post_file(operator, statement([Entry(amount="200.00", credit_debit="DBIT", bank_ref="OUT-1",
                                                end_to_end_id=f"GRW-{w['id']}")])).get_json()
    assert body["matched"] == 1 and withdrawal_status(api, investor) == "paid"
    assert api(investor, "GET", "/me/wallet").get_json()["balances"] == [
        {"currency": "EUR", "available": 300_00, "reserved": 0}]


def test_a_returned_withdrawal_is_available_in_the_wallet_again(api, post_file, operator, investor):
    w = sent_withdrawal(api, investor, operator)
    e2e = f"GRW-{w['id']}"
    post_file(operator, statement([Entry(amount="200.00", credit_debit="DBIT", bank_ref="OUT-1", end_to_end_id=e2e),
                                   Entry(amount="200.00", credit_debit="CRDT", bank_ref="RET-1", end_to_end_id=e2e,
                                         subfamily="RRTN", return_reason="AC04")]))
    assert withdrawal_status(api, investor) == "returned"
    assert wallet(investor) == 500_00
    kinds = [m["kind"] for m in api(investor, "GET", "/me/wallet/movements").get_json()["items"]]
    assert kinds[0] == "withdrawal_returned"


def test_a_debit_for_another_amount_does_not_mark_the_withdrawal_paid(api, post_file, operator, investor):
    w = sent_withdrawal(api, investor, operator)
    body = post_file(operator, statement([Entry(amount="199.00", credit_debit="DBIT", bank_ref="OUT-1",
                                                end_to_end_id=f"GRW-{w['id']}")])).get_json()
    assert body["unmatched"] == 1 and withdrawal_status(api, investor) == "sent"


# --- bad files --------------------------------------------------------------------------------

PAIN = build_credit_transfer(DebtorAccount("GreenRound", OUR_IBAN), [
    ("W-1", "Anna", PAYER_IBAN, None, 100, "EUR", "x")], message_id="M-1")
CAMT052 = statement([Entry()]).replace(b"camt.053.001.02", b"camt.052.001.02").replace(
    b"BkToCstmrStmt", b"BkToCstmrAcctRpt").replace(b"<Stmt>", b"<Rpt>").replace(b"</Stmt>", b"</Rpt>")


@pytest.mark.parametrize("data, says", [
    (b"%PDF-1.4 not a statement", "not a camt.053"),
    (b"", "not a camt.053"),
    (BILLION_LAUGHS, "DTD"),
    (CAMT052, "camt.052"),
    (PAIN, "pain.001"),
    (statement([Entry(currency="SEK")], currency="SEK"), "SEK"),
    (statement([Entry()])[:-40], "not a valid camt.053"),
])
def test_a_file_that_is_not_a_camt053_is_422_and_keeps_nothing(post_file, operator, data, says):
    body = assert_problem(post_file(operator, data), 422, "file")
    assert says in " ".join(body["errors"]["file"]) + body["detail"], body
    assert stored() == (0, 0)


def test_an_error_late_in_the_file_keeps_nothing_of_it(post_file, operator, pledge_api, investor, campaign):
    ref = pending_transfer(pledge_api, investor, campaign)["payment_instructions"]["reference"]
    data = statement([credit(ref), Entry(amount="12.3.4", bank_ref="ASR-9")])
    assert_problem(post_file(operator, data), 422, "file")
    assert stored() == (0, 0)
    assert status_of(pledge_ref_id := db.session.scalar(select(Pledge.id))) == "pending_payment", pledge_ref_id


def test_a_request_without_a_file_is_422(client, api_token, operator):
    response = client.post("/api/v1/bank-statements", data={}, headers=api_token(operator.email),
                           content_type="multipart/form-data")
    assert_problem(response, 422, "file")


def test_a_50_mb_upload_is_413(client, api_token, operator):
    # The multipart body by hand: the test client spools a big ``data={"file": ...}`` to a
    # temporary file that a refused request never closes.
    body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.xml"\r\n\r\n<'
            + b" " * (50 * 1024 * 1024) + b"\r\n--B--\r\n")
    response = client.post("/api/v1/bank-statements", data=body, headers=api_token(operator.email),
                           content_type="multipart/form-data; boundary=B")
    assert_problem(response, 413)
    assert stored() == (0, 0)


@pytest.mark.parametrize("role", ["investor", "owner", "regulator"])
def test_only_the_operator_imports_and_reads_statements(post_file, api, role):
    user = UserFactory(roles=[role])
    assert_problem(post_file(user, statement([Entry()])), 403)
    assert_problem(api(user, "GET", "/bank-statements/1/entries"), 403)


# --- reading the lines ------------------------------------------------------------------------


def test_the_unmatched_lines_are_listed_for_the_operator(api, post_file, operator, pledge_api, investor,
                                                         campaign):
    ref = pending_transfer(pledge_api, investor, campaign)["payment_instructions"]["reference"]
    sid = post_file(operator, statement([credit(ref), Entry(amount="1.00", bank_ref="ASR-7", ustrd="hello")])
                    ).get_json()["id"]
    every = api(operator, "GET", f"/bank-statements/{sid}/entries").get_json()
    assert every["total"] == 2
    open_ = api(operator, "GET", f"/bank-statements/{sid}/entries?status=unmatched").get_json()
    assert [(line["amount"], line["remittance"]) for line in open_["items"]] == [(1_00, "hello")]
    assert_problem(api(operator, "GET", f"/bank-statements/{sid}/entries?status=lost"), 422, "status")
    assert_problem(api(operator, "GET", "/bank-statements/999999/entries"), 404)


# --- Russia: the 259-FZ nominal account and 1C statements -------------------------------------


@pytest.fixture
def russia(app):
    from tests.banking.test_onec import OURS

    account = app.config["PLATFORM_RU_ACCOUNT"]
    app.config["PLATFORM_JURISDICTION"], app.config["PLATFORM_RU_ACCOUNT"] = "RU", OURS
    yield
    app.config["PLATFORM_JURISDICTION"], app.config["PLATFORM_RU_ACCOUNT"] = "EU", account


def test_a_1c_statement_pays_a_rub_transfer_pledge_and_a_second_import_is_a_duplicate(russia, post_file,
                                                                                      operator):
    from sqlalchemy import text

    from app.payments import services as payments
    from tests.banking.test_onec import document, exchange
    from tests.factories import NOW, CampaignFactory
    from tests.payments.conftest import make_ready_investor

    investor = make_ready_investor(classification="non_qualified")
    db.session.execute(text("UPDATE investor_profiles SET currency = 'RUB' WHERE user_id = :u"), {"u": investor.id})
    db.session.commit()
    rub = CampaignFactory(currency="RUB", status="live", target_amount=1_000_000_00, max_amount=2_000_000_00)
    pledge = payments.create_pledge(investor, rub.id, {"amount": 15_000_00, "payment_method": "bank_transfer"},
                                    now=NOW).pledge
    data = exchange(document(amount="15000.00", purpose=f"Оплата по заявке {pledge.payment_reference}"))
    first = post_file(operator, data, "kl_to_1c.txt").get_json()
    assert (first["format"], first["matched"], first["currency"]) == ("1c", 1, "RUB")
    assert status_of(pledge.id) == "paid"
    assert post_file(operator, data, "kl_to_1c.txt").get_json()["duplicates"] == 1


def test_a_1c_statement_is_refused_outside_russia(post_file, operator):
    from tests.banking.test_onec import document, exchange

    assert_problem(post_file(operator, exchange(document())), 422, "file")
    assert stored() == (0, 0)


def test_one_statement_pays_many_pledges_in_several_rounds_and_each_round_counts_them(post_file, operator,
                                                                                     pledge_api, investor):
    from tests.factories import CampaignFactory
    from tests.payments.conftest import fresh

    rounds = [CampaignFactory(status="live"), CampaignFactory(status="live")]
    pledges = [pending_transfer(pledge_api, investor, c, amount) for c in rounds for amount in (100_00, 250_00)]
    entries = [credit(p["payment_instructions"]["reference"], amount=f"{p['amount'] / 100:.2f}", bank_ref=f"ASR-{n}")
               for n, p in enumerate(pledges)]
    body = post_file(operator, statement(entries)).get_json()
    assert (body["matched"], body["unmatched"]) == (4, 0)
    assert {status_of(p["id"]) for p in pledges} == {"paid"}
    for c in rounds:
        assert (fresh(c).raised_amount, fresh(c).reserved_amount, fresh(c).backers_count) == (350_00, 0, 2)
    paid = db.session.get(Pledge, pledges[0]["id"])
    assert paid.reflection_ends_at is None or paid.reflection_ends_at > paid.paid_at


# --- what a statement must never do (found by review) -----------------------------------------


def test_a_partial_return_of_a_withdrawal_credits_nothing(api, post_file, operator, investor):
    w = sent_withdrawal(api, investor, operator)
    body = post_file(operator, statement([Entry(amount="0.01", credit_debit="CRDT", bank_ref="RET-1",
                                                end_to_end_id=f"GRW-{w['id']}", subfamily="RRTN",
                                                return_reason="AC04")])).get_json()
    assert body["unmatched"] == 1 and withdrawal_status(api, investor) == "sent"
    assert wallet(investor) == 300_00


def test_a_transfer_after_pay_by_stays_unmatched_even_before_the_expiry_sweep(post_file, operator, pledge_api,
                                                                              investor, campaign, clock):
    from datetime import timedelta

    pledge = pending_transfer(pledge_api, investor, campaign)
    clock["now"] += timedelta(days=6)  # past pay_by; "expire unpaid" has not run
    body = post_file(operator, statement([credit(pledge["payment_instructions"]["reference"])])).get_json()
    assert body["unmatched"] == 1 and status_of(pledge["id"]) == "pending_payment"


def test_a_pending_entry_moves_no_money_and_its_booking_later_pays(post_file, operator, pledge_api, investor,
                                                                   campaign):
    ref = pending_transfer(pledge_api, investor, campaign)["payment_instructions"]["reference"]
    pending = statement([credit(ref, bank_ref="ASR-5")]).replace(b"<Sts>BOOK</Sts>", b"<Sts>PDNG</Sts>")
    assert post_file(operator, pending).get_json()["unmatched"] == 1
    assert db.session.scalar(select(Pledge.status)) == "pending_payment"
    booked = post_file(operator, statement([credit(ref, bank_ref="ASR-5")])).get_json()
    assert (booked["matched"], booked["duplicates"]) == (1, 0)


@pytest.mark.parametrize("data, says", [
    (statement([Entry()], iban="DE89370400440532013000"), "not the platform's client-money account"),
    (statement([Entry(amount="999999999999999999.99")]), "larger than any account holds"),
    (statement([Entry(bank_ref="R" * 300)]), "longer than"),
    (statement([Entry(end_to_end_id="E" * 80, credit_debit="DBIT")]), "longer than"),
])
def test_a_statement_that_cannot_be_ours_is_422_and_keeps_nothing(post_file, operator, data, says):
    body = assert_problem(post_file(operator, data), 422, "file")
    assert says in " ".join(body["errors"]["file"]), body
    assert stored() == (0, 0)
