"""Identity documents (ECSP Art. 21 and AML identity checks): the investor uploads a PDF,
JPEG or PNG, checked by content and size; it is stored privately, only operators open it,
each opening is audited, and the identity decision records the documents it rested on."""

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.accounts.models import User
from app.core.audit import AuditEntry
from app.extensions import db
from app.investors import documents
from app.investors.models import IdentityDocument, InvestorProfile
from tests.campaigns.test_pages import MINIMAL_PDF
from tests.conftest import csrf_from
from tests.factories import NOW, UserFactory

ME = "/api/v1/me/identity-documents"


def image(fmt: str, size=(640, 400), mode="RGB") -> bytes:
    out = io.BytesIO()
    extra = {"save_all": True, "append_images": [Image.new(mode, size)]} if fmt == "MPO" else {}
    Image.new(mode, size).save(out, fmt, **extra)
    return out.getvalue()


@pytest.fixture(autouse=True)
def storage(app, tmp_path) -> Path:
    app.config["DOCUMENTS_DIR"] = str(tmp_path)
    yield tmp_path / "identity"
    app.config["DOCUMENTS_DIR"] = None


@pytest.fixture
def people(api_token):
    investor = UserFactory(email="inv@example.org", roles=["investor"])
    db.session.add(InvestorProfile(user_id=investor.id, legal_name="Liisa Tamm", country="EE", currency="EUR",
                                   classification="non_sophisticated", created_at=NOW, updated_at=NOW))
    UserFactory(email="other@example.org", roles=["investor"])
    UserFactory(email="op@example.org", roles=["operator"])
    UserFactory(email="reg@example.org", roles=["regulator"])
    db.session.commit()
    return {"investor": investor, **{k: api_token(f"{k}@example.org") for k in ("inv", "other", "op", "reg")}}


def send(client, headers, data: bytes, *, kind="passport", filename="scan.bin"):
    return client.post(ME, data={"kind": kind, "file": (io.BytesIO(data), filename)}, headers=headers,
                       content_type="multipart/form-data")


@pytest.mark.parametrize(("data", "mime"), [
    (MINIMAL_PDF, "application/pdf"), (image("JPEG"), "image/jpeg"), (image("PNG"), "image/png"),
    (image("MPO"), "image/jpeg"),  # a phone camera's JPEG with a second picture
    (image("JPEG", mode="CMYK"), "image/jpeg"), (image("PNG", mode="I;16"), "image/png"),
])
def test_a_pdf_jpeg_or_png_is_kept_as_uploaded_with_its_type_from_the_content(client, people, storage, data, mime):
    response = send(client, people["inv"], data, filename="passport.txt")  # the name says nothing
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == mime and body["size_bytes"] == len(data) and body["kind"] == "passport"
    stored = db.session.get(IdentityDocument, body["id"])
    assert (storage / stored.storage_name).read_bytes() == data
    assert not stored.storage_name.startswith("passport")
    assert [d["id"] for d in client.get(ME, headers=people["inv"]).get_json()] == [body["id"]]


def _fake_png() -> bytes:
    return image("PNG")[:200]  # a real header, the pixels cut off


@pytest.mark.parametrize(("data", "kind", "field", "message"), [
    (b"", "passport", "file", "Choose a file"),
    (b"<html><script>alert(1)</script></html>", "passport", "file", "PDF, a JPEG or a PNG"),
    (b"GIF89a" + b"\0" * 100, "passport", "file", "PDF, a JPEG or a PNG"),
    (_fake_png(), "passport", "file", "damaged"),
    (b"%PDF-1.4 not really a pdf %%EOF", "passport", "file", "PDF"),
    (image("PNG"), "selfie", "kind", "Choose what the document is"),
    (image("PNG"), "", "kind", "Choose what the document is"),
])
def test_a_fake_or_unusable_document_is_refused_and_nothing_is_stored(client, people, storage, data, kind, field,
                                                                       message):
    body = send(client, people["inv"], data, kind=kind).get_json()
    assert body["status"] == 422 and message in body["errors"][field][0], body
    assert db.session.scalar(select(func.count()).select_from(IdentityDocument)) == 0
    assert not storage.exists() or not any(storage.iterdir())


def test_a_decompression_bomb_is_refused(client, people):
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    body = send(client, people["inv"], out.getvalue()).get_json()
    assert body["status"] == 422 and "40 megapixels" in body["errors"]["file"][0]


def test_an_oversized_document_is_refused(client, people, monkeypatch):
    monkeypatch.setattr(documents, "MAX_BYTES", 1000)
    body = send(client, people["inv"], image("PNG", (400, 400)) + b"\0" * 1000).get_json()
    assert body["status"] == 422 and "larger than 10 MB" in body["errors"]["file"][0]
    # The multipart body by hand: the test client spools a big ``data={"file": ...}`` to a
    # temporary file that a refused request never closes.
    body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-'
            + b" " * (11 * 1024 * 1024) + b"\r\n--B--\r\n")
    too_big = client.post(ME, data=body, headers=people["inv"], content_type="multipart/form-data; boundary=B")
    assert too_big.status_code == 413 and too_big.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(IdentityDocument)) == 0


def test_only_operators_open_a_document_and_every_opening_is_audited(client, people):
    document_id = send(client, people["inv"], image("JPEG")).get_json()["id"]
    user_id = people["investor"].id
    url = f"/api/v1/investors/{user_id}/identity-documents/{document_id}"
    for who in ("inv", "other", "reg"):
        assert client.get(url, headers=people[who]).status_code == 403, who
    assert client.get(url).status_code == 401
    assert client.get(f"/api/v1/investors/{user_id}/identity-documents", headers=people["other"]).status_code == 403
    response = client.get(url, headers=people["op"])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "object-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    client.get(url, headers=people["op"])
    viewed = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "investor.identity_document_viewed")).all()
    assert len(viewed) == 2 and viewed[0].details["sha256"] == hashlib.sha256(response.data).hexdigest()
    other_id = db.session.scalar(select(User.id).where(User.email == "other@example.org"))
    assert client.get(f"/api/v1/investors/{other_id}/identity-documents/{document_id}",
                      headers=people["op"]).status_code == 404  # not that investor's document
    assert client.get(f"/api/v1/investors/{user_id}/identity-documents/{document_id + 1}",
                      headers=people["op"]).status_code == 404
    listed = client.get(f"/api/v1/investors/{user_id}/identity-documents", headers=people["op"]).get_json()
    assert [d["id"] for d in listed] == [document_id]


def test_a_changed_or_missing_file_is_not_served(client, people, storage):
    document_id = send(client, people["inv"], image("PNG")).get_json()["id"]
    stored = db.session.get(IdentityDocument, document_id)
    (storage / stored.storage_name).write_bytes(image("PNG", (10, 10)))
    url = f"/api/v1/investors/{people['investor'].id}/identity-documents/{document_id}"
    assert client.get(url, headers=people["op"]).status_code == 404


def test_the_identity_decision_records_the_documents_it_rested_on(client, people):
    document_id = send(client, people["inv"], MINIMAL_PDF, kind="id_card").get_json()["id"]
    user_id = people["investor"].id
    assert client.post(f"/api/v1/investors/{user_id}/verify", json={"status": "verified"},
                       headers=people["op"]).status_code == 200
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "investor.identity_verified")).one()
    assert entry.details["documents"] == [{"id": document_id, "kind": "id_card",
                                           "sha256": db.session.get(IdentityDocument, document_id).sha256}]


def test_an_investor_keeps_at_most_ten_documents(client, people, monkeypatch):
    monkeypatch.setattr(documents, "MAX_PER_INVESTOR", 2)
    for _ in range(2):
        assert send(client, people["inv"], image("PNG")).status_code == 201
    body = send(client, people["inv"], image("PNG")).get_json()
    assert body["status"] == 422 and "the most we keep" in body["errors"]["file"][0]


def test_the_pages_upload_re_render_with_the_message_and_show_documents_to_the_operator(client, auth, people):
    auth.login("inv@example.org")
    page = client.get("/investors/identity-documents").get_data(as_text=True)
    assert "No document uploaded yet." in page and 'enctype="multipart/form-data"' in page
    refused = client.post("/investors/identity-documents", data={
        "csrf_token": csrf_from(page), "kind": "passport", "file": (io.BytesIO(b"MZ\x90\x00 an exe"), "id.png")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="file-error"' in html and '<option selected value="passport">' in html
    ok = client.post("/investors/identity-documents", data={
        "csrf_token": csrf_from(page), "kind": "passport", "file": (io.BytesIO(image("PNG")), "id.png")},
        content_type="multipart/form-data", follow_redirects=True)
    assert ok.status_code == 200 and "id.png" in ok.get_data(as_text=True)
    document = db.session.scalar(select(IdentityDocument))
    assert client.get(f"/investors/{people['investor'].id}/identity-documents/{document.id}").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(ok.get_data(as_text=True))})

    auth.login("op@example.org")
    detail = client.get(f"/investors/{people['investor'].id}").get_data(as_text=True)
    href = f"/investors/{people['investor'].id}/identity-documents/{document.id}"
    assert f'<img src="{href}"' in detail and "Opening a document is recorded" in detail
    assert client.get(href).mimetype == "image/png"


def test_an_operator_who_invests_does_not_open_their_own_documents(client, api_token, storage):
    both = UserFactory(email="both@example.org", roles=["operator", "investor"])
    headers = api_token("both@example.org")
    document_id = send(client, headers, image("PNG")).get_json()["id"]
    assert client.get(f"/api/v1/investors/{both.id}/identity-documents", headers=headers).status_code == 403
    assert client.get(f"/api/v1/investors/{both.id}/identity-documents/{document_id}",
                      headers=headers).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "investor.identity_document_viewed")) == 0


def test_a_failed_upload_leaves_no_file_behind(people, storage, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(documents, "audit", broken)
    with pytest.raises(RuntimeError):
        documents.upload(people["investor"], kind="passport", filename="p.png", data=image("PNG"),
                         storage=storage, now=NOW)
    assert not any(storage.iterdir())
