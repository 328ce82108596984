"""What investors in an offer are told when its information sheet changes.

ECSP Art. 23 keeps the KIIS up to date for the whole offer; someone who has pledged on an
earlier version must hear of a change that could alter their decision, with the new version
and what they may still do about their pledge.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.money import format_money
from app.extensions import db
from app.notifications.services import enqueue


@dataclass(frozen=True)
class Links:
    """Absolute addresses for the e-mail, built by the web layer that knows the host."""

    kiis_pdf: Callable[[int, int], str]
    pledge: Callable[[int], str]
    complaints: Callable[[], str]


def amended(campaign, kiis, *, fields: list[str], now: datetime, links: Links) -> int:
    """E-mail every investor with a live pledge the new version and their revocation right;
    one message per pledge and version (a retried amendment sends nothing twice). Returns how
    many pledges were told."""
    from app.accounts.models import User
    from app.payments.models import Pledge, PledgeStatus

    live = db.session.execute(
        select(Pledge, User).join(User, User.id == Pledge.investor_id).where(
            Pledge.campaign_id == campaign.id,
            Pledge.status.in_([PledgeStatus.PENDING_PAYMENT.value, PledgeStatus.PAID.value]))
        .order_by(Pledge.id)).all()
    for pledge, investor in live:
        amount = format_money(pledge.amount, pledge.currency, locale=investor.locale or "en")
        if pledge.status == PledgeStatus.PAID and pledge.reflection_ends_at and now < pledge.reflection_ends_at:
            right = _l("You may still revoke your pledge of %(amount)s without giving a reason and without penalty "
                       "until %(until)s (UTC), from its page: %(url)s", amount=amount,
                       until=f"{pledge.reflection_ends_at:%Y-%m-%d %H:%M}", url=links.pledge(pledge.id))
        else:
            right = _l("Your pledge of %(amount)s stands: no reflection period is open for it, so it cannot be "
                       "revoked without a reason. If the change matters to your decision, tell us through a "
                       "complaint: %(url)s", amount=amount, url=links.complaints())
        body = _l("The operator amended the offer %(title)s (changed: %(fields)s). Version %(version)s of its "
                  "information sheet replaces version %(old)s, on which you pledged. Read it before you decide "
                  "anything: %(url)s\n\n%(right)s", title=campaign.title, fields=", ".join(fields),
                  version=kiis.version, old=pledge.kiis_version or 1, url=links.kiis_pdf(campaign.id, kiis.version),
                  right=right)
        enqueue(investor, kind="kiis_amended", now=now, dedupe_key=f"kiis-{kiis.id}-pledge-{pledge.id}",
                subject=_l("The offer %(title)s has changed: version %(version)s of its information sheet",
                           title=campaign.title, version=kiis.version), body=body)
    return len(live)
