"""A round's room and counters: the only writer of ``raised_amount``, ``reserved_amount`` and ``backers_count``.

A pledge awaiting payment holds room in ``reserved_amount``; it counts in ``raised_amount``
and ``backers_count`` only once paid. The table's CHECK keeps ``raised + reserved <= max``,
and ``reserve`` is conditional on it, so concurrent pledges cannot pass the maximum under
READ COMMITTED or SQLite alike. Every writer here is one atomic UPDATE (never a
read-modify-write), and forgets the counters of a campaign loaded in the session.

Two forms of each write: the functions run their UPDATE at once (SQLite, and PostgreSQL
outside the hot path); ``reserving_cte`` and ``counting_cte`` are the same UPDATEs as pieces
of the pledge store's one-statement PostgreSQL writes.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.util import identity_key

from app.campaigns.models import Campaign, CampaignStatus
from app.core.errors import StateConflict
from app.core.i18n import _
from app.core.money import format_money
from app.extensions import db

_table = Campaign.__table__
_c = _table.c
COUNTERS = ("raised_amount", "reserved_amount", "backers_count")

#: Takes room, or matches nothing: both the check and the row lock (built once, bound per call).
_RESERVE = (update(_table)
            .where(_c.id == bindparam("campaign_id"), _c.status == CampaignStatus.LIVE.value,
                   _c.closes_at > bindparam("now"),
                   _c.raised_amount + _c.reserved_amount + bindparam("amount") <= _c.max_amount)
            .values(reserved_amount=_c.reserved_amount + bindparam("amount"))
            .returning(_c.reserved_amount))
#: A paid pledge: its reserved room becomes raised money and a backer.
_COUNT = (update(_table).where(_c.id == bindparam("campaign_id"))
          .values(reserved_amount=_c.reserved_amount - bindparam("reserved"),
                  raised_amount=_c.raised_amount + bindparam("amount"),
                  backers_count=_c.backers_count + bindparam("pledges")))
_RELEASE = (update(_table).where(_c.id == bindparam("campaign_id"))
            .values(reserved_amount=_c.reserved_amount - bindparam("amount")))
_UNCOUNT = (update(_table).where(_c.id == bindparam("campaign_id"))
            .values(raised_amount=_c.raised_amount - bindparam("amount"), backers_count=_c.backers_count - 1))
_UNCOUNT_IF_LIVE = _UNCOUNT.where(_c.status == CampaignStatus.LIVE.value)


def forget(campaign_id: int) -> None:
    """Expire the counters of the campaign if the session holds it (a Core UPDATE changed them)."""
    loaded = db.session.identity_map.get(identity_key(Campaign, campaign_id))
    if loaded is not None:
        db.session.expire(loaded, list(COUNTERS))


def reserve(campaign_id: int, amount: int, now: datetime) -> None:
    """Take ``amount`` of room, or raise ``refusal``'s 409: the UPDATE is both the check and the lock."""
    if db.session.execute(_RESERVE, {"campaign_id": campaign_id, "now": now, "amount": amount}).first() is None:
        raise refusal(campaign_id, now)
    forget(campaign_id)


def release(campaign_id: int, amount: int) -> None:
    """A pending pledge failed or expired: its room is free again."""
    db.session.execute(_RELEASE, {"campaign_id": campaign_id, "amount": amount})
    forget(campaign_id)


def count(campaign_id: int, amount: int, *, reserved: bool = True, pledges: int = 1) -> None:
    """``pledges`` pledges of ``amount`` in all were paid: their room (``reserved``: held while they
    awaited payment) becomes raised money, and each a backer."""
    db.session.execute(_COUNT, {"campaign_id": campaign_id, "amount": amount, "reserved": amount if reserved else 0,
                                "pledges": pledges})
    forget(campaign_id)


def uncount(campaign_id: int, amount: int, *, only_if_live: bool = False) -> None:
    """A paid pledge left the round (revoked, or refunded while the round is ``only_if_live``)."""
    db.session.execute(_UNCOUNT_IF_LIVE if only_if_live else _UNCOUNT, {"campaign_id": campaign_id, "amount": amount})
    forget(campaign_id)


def reserving_cte(name: str = "room") -> Any:
    """``reserve`` as a data-modifying CTE (same parameters): no row when there is no room."""
    return _RESERVE.cte(name)


def counting_cte(source: Any, *, when: Any, name: str = "counted") -> Any:
    """``count`` as a data-modifying CTE: moves ``source.amount`` of ``source.campaign_id`` (a CTE
    of the paid pledge) from reserved to raised, only where ``when`` (a SQL condition) holds."""
    return (update(_table).where(_c.id == source.c.campaign_id, when)
            .values(reserved_amount=_c.reserved_amount - source.c.amount,
                    raised_amount=_c.raised_amount + source.c.amount, backers_count=_c.backers_count + 1)
            .cte(name))


def refusal(campaign_id: int, now: datetime) -> StateConflict:
    """Why ``reserve`` matched no row, said precisely (closed, not live, full, or how much is left)."""
    row = db.session.execute(select(_c.status, _c.closes_at, _c.max_amount, _c.raised_amount, _c.reserved_amount,
                                    _c.currency).where(_c.id == campaign_id)).one()
    if row.status != CampaignStatus.LIVE:
        return StateConflict(_("This campaign is not open for pledges."),
                             {"campaign": [_("The campaign is %(status)s.", status=row.status)]})
    if row.closes_at <= now:
        return StateConflict(_("This round has closed."), {"campaign": [_("The round closed.")]})
    room = max(0, row.max_amount - row.raised_amount - row.reserved_amount)
    if room == 0:
        return StateConflict(_("This round is full."), {"amount": [_("No room is left in this round.")]})
    text = _("Only %(room)s of room is left in this round.", room=format_money(room, row.currency))
    return StateConflict(text, {"amount": [text]})
