"""The operator's statement pages: upload with the result, the unmatched lines, matching one
by hand (audited) or recording it returned to the sender."""

import io
import re

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.extensions import db
from app.payments.models import Pledge
from app.statements.models import StatementLine
from tests.banking.camt_samples import Entry, statement
from tests.conftest import csrf_from
from tests.payments.test_wallet_and_transfer_pledges import TRANSFER


def upload(client, data: bytes, filename: str = "statement.xml"):
    html = client.get("/operator/bank-statements").get_data(as_text=True)
    return client.post("/operator/bank-statements", data={"csrf_token": csrf_from(html),
                                                          "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_an_unmatched_credit_is_matched_by_hand_and_the_pledge_is_paid(client, auth, operator, pledge_api,
                                                                       investor, campaign):
    pledge = pledge_api(investor, campaign, TRANSFER).get_json()
    auth.login(operator.email)
    response = upload(client, statement([Entry(amount="500.00", ustrd="for my pledge, reference lost")]))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 unmatched" in page and "reference lost" in page
    line_id = re.search(r"/operator/statement-lines/(\d+)/match", page).group(1)
    done = client.post(f"/operator/statement-lines/{line_id}/match",
                       data={"csrf_token": csrf_from(page), "pledge": pledge["payment_instructions"]["reference"]})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Pledge, pledge["id"]).status == "paid"
    line = db.session.get(StatementLine, int(line_id))
    assert (line.status, line.matched_by) == ("matched", operator.id)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "statement_line.matched")) is not None


def test_a_hand_match_with_another_amount_is_refused_and_changes_nothing(client, auth, operator, pledge_api,
                                                                         investor, campaign):
    pledge = pledge_api(investor, campaign, TRANSFER).get_json()
    auth.login(operator.email)
    location = upload(client, statement([Entry(amount="499.00", ustrd="x")])).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    line_id = re.search(r"/operator/statement-lines/(\d+)/match", page).group(1)
    client.post(f"/operator/statement-lines/{line_id}/match", data={"csrf_token": csrf_from(page),
                                                                   "pledge": str(pledge["id"])})
    assert "amount differs" in client.get(location).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Pledge, pledge["id"]).status == "pending_payment"
    assert db.session.get(StatementLine, int(line_id)).status == "unmatched"


def test_a_line_is_recorded_returned_to_the_sender(client, auth, operator):
    auth.login(operator.email)
    location = upload(client, statement([Entry(amount="12.00", ustrd="wrong account")])).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    line_id = re.search(r"/operator/statement-lines/(\d+)/returned", page).group(1)
    client.post(f"/operator/statement-lines/{line_id}/returned", data={"csrf_token": csrf_from(page)})
    db.session.expire_all()
    assert db.session.get(StatementLine, int(line_id)).status == "returned_to_sender"


def test_a_bad_file_re_renders_the_upload_with_the_reason_and_keeps_nothing(client, auth, operator):
    auth.login(operator.email)
    response = upload(client, b"not xml at all", "statement.pdf")
    assert response.status_code == 422
    assert "not a camt.053" in response.get_data(as_text=True)
    assert db.session.scalar(select(StatementLine.id)) is None


def test_the_upload_page_takes_a_statement_above_the_apps_12_mb_limit_and_still_checks_csrf(client, auth, operator):
    auth.login(operator.email)
    padding = b"<!-- padding -->" * (13 * 1024 * 1024 // 16 + 1)  # many small comments: a big, valid file
    big = statement([Entry(amount="1.00", ustrd="padding below")]).replace(b"</Document>", b"</Document>" + padding)
    # The multipart body by hand: the test client spools a big file to a temporary file it never closes.
    html = client.get("/operator/bank-statements").get_data(as_text=True)
    body = (b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + csrf_from(html).encode()
            + b'\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="big.xml"\r\n\r\n' + big
            + b"\r\n--B--\r\n")
    response = client.post("/operator/bank-statements", data=body, content_type="multipart/form-data; boundary=B")
    html = response.get_data(as_text=True)
    assert response.status_code == 302, html[html.find("<main"):][:1500]
    forged = client.post("/operator/bank-statements", data={"file": (io.BytesIO(statement([Entry()])), "s.xml")},
                         content_type="multipart/form-data")
    assert forged.status_code in (400, 422)
    assert db.session.scalar(select(StatementLine.id).where(StatementLine.remittance == "hello")) is None
