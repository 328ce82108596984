"""Identity documents: what an investor uploads so the operator's identity decision rests
on something. The type is found from the content (a PDF that parses, a JPEG or PNG that
Pillow decodes whole), never from the name or the browser's claim; the bytes are kept as
uploaded (they are the evidence) under a random name outside the web root, and only
operators open them, each opening audited.
"""

import hashlib
import io
import uuid
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Response, current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select

from app.accounts.models import User
from app.campaigns.pdfs import pdf_problem
from app.core.audit import audit
from app.core.errors import NotAllowed, NotFound, ValidationFailed
from app.core.i18n import _
from app.core.permissions import Permission, can
from app.extensions import db
from app.investors.models import DocumentKind, IdentityDocument

MAX_BYTES = 10 * 1024 * 1024
#: Enough for both sides of a card, a passport and two proofs of address, with retries.
MAX_PER_INVESTOR = 10
#: A photo of a document needs no more; larger claims are decompression bombs.
MAX_PIXELS = 40_000_000
#: MPO is how Pillow names a JPEG carrying a second picture (many phone cameras write them).
_IMAGE_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def storage() -> Path:
    """Where identity documents live: a folder of the private documents directory."""
    return Path(current_app.config["DOCUMENTS_DIR"]) / "identity"


def _image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG or PNG that decodes whole within MAX_PIXELS, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a corrupt EXIF or MPO index is not a refusal
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = _IMAGE_TYPES.get(probe.format or "")
                if kind is None or probe.width * probe.height > MAX_PIXELS:
                    return None
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() skips the pixel data; a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None
    return kind


def content_type(data: bytes) -> tuple[str | None, str | None]:
    """(MIME type, None) for an acceptable document, or (None, why not) in the uploader's words."""
    if data.startswith(b"%PDF-"):
        problem = pdf_problem(data)
        return (None, problem) if problem else ("application/pdf", None)
    kind = _image_type(data)
    if kind is None:
        return None, _("Upload a PDF, a JPEG or a PNG: this file is none of them, or it is damaged or too large "
                       "an image (at most 40 megapixels).")
    return kind, None


def upload(user: User, *, kind: Any, filename: str, data: bytes, storage: Path, now: datetime,
           ip_address: str | None = None) -> IdentityDocument:
    """Check and store one document; a refused file leaves nothing behind."""
    if not can(user, Permission.MANAGE_INVESTOR_PROFILE):
        raise NotAllowed(_("Only investors upload identity documents."))
    errors: dict[str, list[str]] = {}
    if kind not in {k.value for k in DocumentKind}:
        errors["kind"] = [_("Choose what the document is: %(kinds)s.", kinds=", ".join(k.value for k in DocumentKind))]
    mime = None
    if not data:
        errors["file"] = [_("Choose a file to upload.")]
    elif len(data) > MAX_BYTES:
        errors["file"] = [_("The file is larger than 10 MB.")]
    else:
        mime, problem = content_type(data)
        if problem:
            errors["file"] = [problem]
    if count(user.id) >= MAX_PER_INVESTOR:
        errors["file"] = [_("You have uploaded %(n)s documents, the most we keep: the operator decides with "
                            "those on file.", n=MAX_PER_INVESTOR)]
    if errors:
        raise ValidationFailed(_("The document was not accepted."), errors)
    storage.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{EXTENSIONS[mime]}"
    path = storage / name
    path.write_bytes(data)
    try:
        return _record(user, path, kind=kind, mime=mime, filename=filename, data=data, now=now,
                       ip_address=ip_address)
    except Exception:
        path.unlink(missing_ok=True)  # a passport scan never outlives a failed upload
        raise


def _record(user: User, path: Path, *, kind: str, mime: str, filename: str, data: bytes, now: datetime,
            ip_address: str | None) -> IdentityDocument:
    name = path.name
    document = IdentityDocument(user_id=user.id, kind=kind, content_type=mime,
                                original_filename=(filename or "document")[:255], storage_name=name,
                                size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), uploaded_at=now)
    db.session.add(document)
    db.session.flush()
    audit("investor.identity_document_uploaded", actor=user, subject=document, ip_address=ip_address, at=now,
          details={"kind": kind, "content_type": mime, "sha256": document.sha256, "size_bytes": len(data)})
    return document


def count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(IdentityDocument)
                             .where(IdentityDocument.user_id == user_id)) or 0


def of(user_id: int) -> list[IdentityDocument]:
    """The investor's documents, newest first."""
    return list(db.session.scalars(select(IdentityDocument).where(IdentityDocument.user_id == user_id)
                                   .order_by(IdentityDocument.uploaded_at.desc(), IdentityDocument.id.desc())))


def on_file(user_id: int) -> list[dict[str, Any]]:
    """What an identity decision rests on, for its audit entry."""
    return [{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in of(user_id)]


def require_reviewer(actor: Any, user_id: int) -> None:
    """Operators only, and never for their own documents (ECSP Art. 8: no one checks themselves)."""
    if not can(actor, Permission.VERIFY_INVESTORS) or actor.id == user_id:
        raise NotAllowed(_("Only another platform operator opens identity documents."))


def open_for(actor: Any, user_id: int, document_id: int, *, storage: Path, now: datetime,
             ip_address: str | None = None) -> tuple[IdentityDocument, bytes]:
    """The document's bytes for an operator, audited; 404 for a document of someone else."""
    require_reviewer(actor, user_id)
    document = db.session.get(IdentityDocument, document_id)
    if document is None or document.user_id != user_id:
        raise NotFound(_("No such document."))
    path = storage / document.storage_name
    data = path.read_bytes() if path.is_file() else b""
    if hashlib.sha256(data).hexdigest() != document.sha256:
        raise NotFound(_("The stored file is missing or no longer matches what was uploaded."))
    audit("investor.identity_document_viewed", actor=actor, subject=document, ip_address=ip_address, at=now,
          details={"investor_id": user_id, "sha256": document.sha256})
    return document, data


def response(document: IdentityDocument, data: bytes) -> Response:
    """The bytes as their checked type, never sniffed, never cached (the app-wide CSP
    already forbids scripts and plugins on every response)."""
    inline = document.content_type != "application/pdf"
    result = Response(data, mimetype=document.content_type)
    result.headers["Content-Disposition"] = (
        f'{"inline" if inline else "attachment"}; filename="identity-document-{document.id}.'
        f'{EXTENSIONS[document.content_type]}"')
    result.headers["X-Content-Type-Options"] = "nosniff"
    result.headers["Cache-Control"] = "no-store"
    return result
