"""Uploaded campaign documents are parsed with pypdf: a polyglot, an encrypted PDF or one with
scripts is refused with a message, nothing is stored; documents download as attachments."""

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import func, select

from app.campaigns.models import CampaignDocument
from app.campaigns.pdfs import pdf_problem
from app.campaigns.services import MAX_DOCUMENTS, add_document
from app.core.errors import ValidationFailed
from app.extensions import db
from tests.campaigns.test_pages import MINIMAL_PDF, _upload
from tests.factories import NOW, CampaignFactory, UserFactory


@pytest.fixture
def owner(auth):
    user = UserFactory(email="owner@example.org", roles=["owner"])
    auth.login("owner@example.org")
    return user


def _rewritten(change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(MINIMAL_PDF)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _open_script(writer: PdfWriter) -> None:
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('hi');")})


def _goto_then_script(writer: PdfWriter) -> None:
    script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("1")})
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/GoTo"), NameObject("/Next"): script})


def _launch_link(writer: PdfWriter) -> None:
    from pypdf.generic import ArrayObject

    launch = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    link = DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
                             NameObject("/A"): launch})
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])


def _deeply_nested(writer: PdfWriter) -> None:
    node = DictionaryObject({NameObject("/JS"): TextStringObject("1")})
    for _ in range(70):
        node = DictionaryObject({NameObject("/X"): node})
    writer.pages[0][NameObject("/Deep")] = node


POLYGLOT = (b"%PDF-1.4\n<html><body><script>alert(document.domain)</script></body></html>\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.mark.parametrize(("data", "message"), [
    (POLYGLOT, "not a readable PDF"),
    (b"<html>%PDF-1.4</html>", "not a PDF document"),
    (_rewritten(lambda w: w.encrypt("secret")), "encrypted"),
    (_rewritten(_open_script), "scripts or actions"),
    (_rewritten(lambda w: w.add_attachment("run.exe", b"MZ")), "scripts or actions"),
    (_rewritten(_goto_then_script), "scripts or actions"),
    (_rewritten(_launch_link), "scripts or actions"),
    (_rewritten(_deeply_nested), "scripts or actions"),
])
def test_a_pdf_that_is_not_plain_is_refused(data, message):
    assert message in pdf_problem(data)


def test_a_plain_pdf_passes():
    assert pdf_problem(MINIMAL_PDF) is None


def test_a_refused_document_is_not_stored_and_the_page_says_why(app, client, owner, tmp_path):
    app.config["DOCUMENTS_DIR"] = str(tmp_path)
    draft = CampaignFactory(owner=owner, status="draft")
    response = _upload(client, draft, "Energy audit", POLYGLOT)
    assert response.status_code in (302, 422)
    assert "not a readable PDF" in client.get(f"/campaigns/{draft.id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CampaignDocument)) == 0
    assert list(tmp_path.iterdir()) == []
    app.config["DOCUMENTS_DIR"] = None


def test_documents_download_as_attachments(app, client, owner, tmp_path):
    app.config["DOCUMENTS_DIR"] = str(tmp_path)
    draft = CampaignFactory(owner=owner, status="draft")
    _upload(client, draft, "Energy audit", MINIMAL_PDF)
    document = db.session.scalar(select(CampaignDocument))
    response = client.get(f"/campaigns/{draft.id}/documents/{document.id}")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    app.config["DOCUMENTS_DIR"] = None


def test_a_campaign_holds_at_most_twenty_documents(owner, tmp_path):
    draft = CampaignFactory(owner=owner, status="draft")
    for n in range(MAX_DOCUMENTS):
        add_document(draft, owner, title=f"Document {n}", filename="d.pdf", data=MINIMAL_PDF, storage=tmp_path, now=NOW)
    with pytest.raises(ValidationFailed) as refused:
        add_document(draft, owner, title="One more", filename="d.pdf", data=MINIMAL_PDF, storage=tmp_path, now=NOW)
    assert refused.value.errors["file"] == [f"A campaign holds at most {MAX_DOCUMENTS} documents."]
    assert db.session.scalar(select(func.count()).select_from(CampaignDocument)) == MAX_DOCUMENTS
