"""Pledges: the checks, the reservation of room, the charge, revocation and refunds.

Every rule a pledge must pass is checked here, in one place, in this order: the role
(INVEST), the campaign (visible, live, open), the input (amount, payment method,
currency, minimum, maximum), the investor's readiness and limits (the investors
domain decides), then the room, which one conditional UPDATE on the campaign row both
checks and reserves.

Room and money
--------------
A pledge awaiting payment holds room in ``campaigns.reserved_amount``; it never counts in
``raised_amount`` (nor ``backers_count``) until the charge has succeeded. Failure and
expiry give the room back. The invariant ``raised + reserved <= max`` is a CHECK on the
table, and the UPDATE that reserves is conditional on it, so concurrent pledges cannot
pass the maximum under READ COMMITTED or SQLite alike.

Transactions
------------
``create_pledge``, ``confirm_pledge``, ``abort_pledge``, ``revoke_pledge`` and the sweeps
are boundaries and commit, because a gateway call must sit *between* two commits: the
reservation is committed before the card is charged (no row lock is ever held across a
network call), and the result is recorded in a second transaction. Every gateway call
carries a key derived from the pledge id (``pledge-<id>-charge``, ``-confirm``,
``-refund``), so re-driving a step after a crash or a timeout never moves money twice.
``record_charge_result`` and ``refund_pledge`` only flush: webhooks and jobs call them
and commit themselves.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, func, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.campaigns import services as campaigns
from app.campaigns.models import Campaign, CampaignStatus
from app.core.adopted import adopt
from app.core.audit import audit, audit_deferred, deferred_insert_from, deferred_params
from app.core.errors import DomainError, NotAllowed, NotFound, StateConflict, ValidationFailed, load
from app.core.i18n import _
from app.core.money import format_money
from app.core.permissions import Permission, Role, can
from app.extensions import db
from app.investors import limits
from app.investors import services as investors
from app.payments import ledger
from app.payments.errors import GatewayUnavailable, PaymentDeclined, RefundFailed
from app.payments.gateways import gateway
from app.payments.gateways.base import ChargeResult, GatewayError
from app.payments.lifecycle import Event, IllegalTransition, sources, target
from app.payments.models import LIVE_STATUSES, Pledge, PledgeStatus
from app.payments.schemas import PledgeInputSchema

log = logging.getLogger(__name__)


campaign_table = Campaign.__table__
pledge_table = Pledge.__table__

# The pledge hot path's statements are built once with bound parameters: a statement
# object reused with new values skips SQLAlchemy's per-call construction and cache-key
# work, which costs more CPU than the round trip itself (issue 5's benchmark).

_c = campaign_table.c
#: What the checks read of the campaign, as a plain row with the model's attribute names
#: (the campaigns' own visibility rule included): no ORM object, no SDGs, no owner.
_LEAN_CAMPAIGN = (select(_c.id, _c.owner_id, _c.status, _c.closes_at, _c.currency, _c.min_pledge, _c.max_amount,
                         _c.current_kiis_version)
                  .where(_c.id == bindparam("campaign_id")))
#: Takes room, or matches nothing: both the check and the row lock.
_RESERVE = (update(campaign_table)
            .where(_c.id == bindparam("campaign_id"), _c.status == CampaignStatus.LIVE.value,
                   _c.closes_at > bindparam("now"),
                   _c.raised_amount + _c.reserved_amount + bindparam("amount") <= _c.max_amount)
            .values(reserved_amount=_c.reserved_amount + bindparam("amount"))
            .returning(_c.reserved_amount))
#: A paid pledge: its reserved room becomes raised money and a backer.
_COUNT = (update(campaign_table).where(_c.id == bindparam("campaign_id"))
          .values(reserved_amount=_c.reserved_amount - bindparam("amount"),
                  raised_amount=_c.raised_amount + bindparam("amount"), backers_count=_c.backers_count + 1))


@dataclass(frozen=True)
class PledgeOutcome:
    pledge: Pledge
    #: True when an Idempotency-Key matched an earlier request and nothing new happened.
    replayed: bool = False


def charge_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-charge"


def refund_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-refund"


def confirm_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-confirm"


# --- reading ------------------------------------------------------------------------------------


def _is_operator(actor: Any) -> bool:
    return actor is not None and Role.OPERATOR.value in getattr(actor, "role_names", set())


def _owner_filter(actor: Any):
    """Whose pledges ``actor`` calls "mine": a fund manager's are the fund's."""
    fund = investors.fund_for(actor)
    if fund is not None:
        return Pledge.fund_id == fund.id
    return (Pledge.investor_id == actor.id) & Pledge.fund_id.is_(None)


def pledges_query(actor: Any) -> Select[Any]:
    """The actor's own pledges, newest first."""
    return select(Pledge).where(_owner_filter(actor)).order_by(Pledge.created_at.desc(), Pledge.id.desc())


def _own(pledge: Pledge, actor: Any) -> bool:
    if actor is None:
        return False
    if pledge.fund_id is not None:
        fund = investors.fund_for(actor)
        return fund is not None and fund.id == pledge.fund_id
    return pledge.investor_id == actor.id


def get_pledge(pledge_id: int, actor: Any) -> Pledge:
    """The pledge for its investor (or fund) and the operator; NotFound for anyone else."""
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or not (_own(pledge, actor) or _is_operator(actor)):
        raise NotFound(_("No such pledge."))
    return pledge


def get_own_pledge(pledge_id: int, actor: Any) -> Pledge:
    """The pledge only for its investor (or fund): revoking and confirming are theirs alone."""
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or not _own(pledge, actor):
        raise NotFound(_("No such pledge."))
    return pledge


def find_by_reference(reference: str) -> Pledge | None:
    """The pledge a gateway charge belongs to (for webhooks)."""
    return db.session.scalar(select(Pledge).where(Pledge.gateway_reference == reference))


def is_revocable(pledge: Pledge, now: datetime) -> bool:
    return (pledge.status == PledgeStatus.PAID and pledge.reflection_ends_at is not None
            and now < pledge.reflection_ends_at)


def campaign_pledges(campaign_id: int) -> list[Pledge]:
    return list(db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign_id).order_by(Pledge.id)))


# --- the checks -----------------------------------------------------------------------------------


def request_hash(campaign_id: int, data: Any) -> str:
    """A digest of the request as sent, to tell a retry from a different request under one key."""
    canonical = json.dumps({"campaign_id": campaign_id, "body": data}, sort_keys=True, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_PLEDGE_INPUT = PledgeInputSchema()  # stateless: one instance serves every request


def _load(data: Any) -> dict:
    return load(_PLEDGE_INPUT, data, lambda: _("The pledge is invalid."))


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


def _check_campaign(campaign: Any, clean: dict, now: datetime) -> None:
    """The campaign-side rules; the room itself is checked again by the reserving UPDATE."""
    if campaign.status != CampaignStatus.LIVE:
        raise StateConflict(_("This campaign is not open for pledges."),
                            {"campaign": [_("The campaign is %(status)s.", status=campaign.status)]})
    if campaign.closes_at <= now:
        raise StateConflict(_("This round has closed."), {"campaign": [_("The round closed.")]})
    currency = clean.get("currency")
    if currency is not None and currency != campaign.currency:
        raise ValidationFailed(_("The pledge must be in the campaign's currency, %(currency)s.",
                                 currency=campaign.currency),
                               {"currency": [_("Must be %(currency)s.", currency=campaign.currency)]})
    amount = clean["amount"]
    if amount < campaign.min_pledge:
        text = _("The minimum pledge is %(min)s.", min=_money(campaign.min_pledge, campaign.currency))
        raise ValidationFailed(text, {"amount": [text]})
    if amount > campaign.max_amount:
        text = _("The pledge is larger than the whole round (%(max)s).",
                 max=_money(campaign.max_amount, campaign.currency))
        raise ValidationFailed(text, {"amount": [text]})
    version = clean.get("kiis_version")
    if version is not None and version != campaign.current_kiis_version:
        raise StateConflict(_("The terms changed since you read them: read the current Key Investment Information "
                              "Sheet (version %(version)s) and pledge again.", version=campaign.current_kiis_version),
                            {"kiis_version": [_("Outdated.")]})


def _room_conflict(campaign_id: int, amount: int, now: datetime) -> StateConflict:
    """Why the reserving UPDATE matched no row, said precisely."""
    row = db.session.execute(select(campaign_table.c.status, campaign_table.c.closes_at, campaign_table.c.max_amount,
                                    campaign_table.c.raised_amount, campaign_table.c.reserved_amount,
                                    campaign_table.c.currency)
                             .where(campaign_table.c.id == campaign_id)).one()
    if row.status != CampaignStatus.LIVE:
        return StateConflict(_("This campaign is not open for pledges."),
                             {"campaign": [_("The campaign is %(status)s.", status=row.status)]})
    if row.closes_at <= now:
        return StateConflict(_("This round has closed."), {"campaign": [_("The round closed.")]})
    room = max(0, row.max_amount - row.raised_amount - row.reserved_amount)
    if room == 0:
        return StateConflict(_("This round is full."), {"amount": [_("No room is left in this round.")]})
    text = _("Only %(room)s of room is left in this round.", room=_money(room, row.currency))
    return StateConflict(text, {"amount": [text]})


def pledged_this_year(actor: Any, currency: str, now: datetime, j: limits.JurisdictionProfile) -> int:
    """This platform's live pledges by the investor in the calendar year of ``now`` (for the limits)."""
    start, end = limits.year_bounds(limits.calendar_year(now, j), j)
    total = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.amount), 0)).where(
            _owner_filter(actor), Pledge.currency == currency,
            Pledge.status.in_([s.value for s in LIVE_STATUSES]),
            Pledge.created_at >= start, Pledge.created_at < end))
    return int(total or 0)


def _reflection_end(facts: limits.InvestorFacts, now: datetime, j: limits.JurisdictionProfile) -> datetime | None:
    """ECSP Art. 22: four calendar days for non-sophisticated investors; none for the others."""
    if limits.is_professional(facts, j):
        return None
    days = current_app.config.get("REFLECTION_DAYS", {}).get(j.code, 0)
    return now + timedelta(days=days) if days else None


def check_readiness(actor: Any, now: datetime, j: limits.JurisdictionProfile,
                    context: investors.InvestorContext | None = None) -> None:
    ready = investors.readiness(actor, now, j, context=context)
    if not ready.ready:
        missing = [step["detail"] for step in ready.steps if not step["done"]]
        raise NotAllowed(_("You cannot pledge yet: complete the steps on your investing page first."),
                         {"readiness": missing or [_("Your account cannot invest.")]})


# --- state changes --------------------------------------------------------------------------------


#: ``_transition``'s UPDATE per (event, columns set), built on first use and reused.
_TRANSITIONS: dict[tuple[Event, tuple[str, ...]], Any] = {}


def _transition_statement(event: Event, columns: tuple[str, ...]) -> Any:
    statement = _TRANSITIONS.get((event, columns))
    if statement is None:
        statement = _TRANSITIONS[(event, columns)] = (
            update(pledge_table)
            # ORed equalities, not IN: an IN list is re-rendered on every execution.
            .where(pledge_table.c.id == bindparam("pledge_id"),
                   or_(*(pledge_table.c.status == s.value for s in sources(event))))
            .values(status=target(event).value, **{column: bindparam(f"new_{column}") for column in columns}))
    return statement


def _transition(pledge: Pledge, event: Event, *, extra_where: Any = None, **values: Any) -> bool:
    """Move ``pledge`` by ``event`` with one conditional UPDATE; False if another process moved it first.

    The winner's instance is updated in memory; a loser's is re-read.
    """
    statement = _transition_statement(event, tuple(sorted(values)))
    if extra_where is not None:
        statement = statement.where(extra_where)
    params = {"pledge_id": pledge.id, **{f"new_{column}": value for column, value in values.items()}}
    result = db.session.execute(statement, params)
    if result.rowcount != 1:
        db.session.refresh(pledge)
        return False
    set_committed_value(pledge, "status", target(event).value)
    for key, value in values.items():
        set_committed_value(pledge, key, value)
    return True


def _campaign_update(campaign_id: int, **values: Any) -> None:
    db.session.execute(update(campaign_table).where(campaign_table.c.id == campaign_id).values(**values))
    _expire_campaign(campaign_id)


def _expire_campaign(campaign_id: int) -> None:
    """Forget the counters a Core UPDATE changed, without loading the campaign to find it."""
    loaded = db.session.identity_map.get(identity_key(Campaign, campaign_id))
    if loaded is not None:
        db.session.expire(loaded, ["raised_amount", "reserved_amount", "backers_count"])


def _commit_keeping(pledge: Pledge) -> None:
    """Commit, keeping the pledge's just-committed column values loaded (no re-SELECT on the hot path)."""
    values = {attr.key: getattr(pledge, attr.key) for attr in inspect(Pledge).column_attrs}
    db.session.commit()
    for key, value in values.items():
        set_committed_value(pledge, key, value)


def _reserve(campaign_id: int, amount: int, now: datetime) -> None:
    """Take ``amount`` of room, or raise 409: this UPDATE is both the check and the lock."""
    row = db.session.execute(_RESERVE, {"campaign_id": campaign_id, "now": now, "amount": amount}).first()
    if row is None:
        raise _room_conflict(campaign_id, amount, now)
    _expire_campaign(campaign_id)


def _release(pledge: Pledge) -> None:
    """A pending pledge failed or expired: its room is free again."""
    c = campaign_table.c
    _campaign_update(pledge.campaign_id, reserved_amount=c.reserved_amount - pledge.amount)


def _count(pledge: Pledge) -> None:
    """A pending pledge was paid: its reserved room becomes raised money and a backer."""
    db.session.execute(_COUNT, {"campaign_id": pledge.campaign_id, "amount": pledge.amount})
    _expire_campaign(pledge.campaign_id)


def _uncount(pledge: Pledge) -> None:
    """A paid pledge was revoked: it no longer counts toward the round."""
    c = campaign_table.c
    _campaign_update(pledge.campaign_id, raised_amount=c.raised_amount - pledge.amount,
                     backers_count=c.backers_count - 1)


def create_pledge(actor: Any, campaign_id: int, data: Any, *, now: datetime, idempotency_key: str | None = None,
                  return_url: Callable[[int], str] | None = None, ip_address: str | None = None) -> PledgeOutcome:
    """Check, reserve, commit, charge, record, commit. Raises a DomainError for every refusal.

    :param data: ``{amount, payment_method, currency?, acknowledge_risk?, kiis_version?}``.
    :param idempotency_key: the client's key: the same key with the same ``data`` returns the
        first pledge and charges nothing again; with other data it is a 422.
    :param return_url: builds, from the pledge id, the page where the investor comes back
        after 3-D Secure (the sandbox's stand-in page is that page itself).
    :raises PaymentDeclined: 402 when the card is declined (the pledge is then ``failed``).
    """
    if not can(actor, Permission.INVEST):
        raise NotAllowed(_("Only investors and fund managers pledge."))
    # The campaigns' own visibility rule, on a lean load (no SDGs, no owner: the hot path needs neither).
    campaign = db.session.execute(_LEAN_CAMPAIGN, {"campaign_id": campaign_id}).first()
    if campaign is None or not campaigns.can_view(campaign, actor):
        raise NotFound(_("No such campaign."))
    digest = request_hash(campaign_id, data)
    key = _clean_key(idempotency_key)
    try:
        pledge = _reserve_pledge(actor, campaign, data, digest, key, now=now, ip_address=ip_address)
    except (DomainError, IntegrityError):
        # Only a refusal looks the key up: a retry of a request that went through gets the
        # first answer even though the round has filled or the limit is used up since, and
        # a duplicate key on insert means a twin request created the pledge a moment ago.
        db.session.rollback()
        existing = _find_by_key(actor, key) if key is not None else None
        if existing is None:
            raise
        return _replay(existing, digest, now=now, return_url=return_url)
    return PledgeOutcome(_charge(pledge, now=now, return_url=return_url))


def _clean_key(idempotency_key: str | None) -> str | None:
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(_("The Idempotency-Key is invalid."),
                               {"Idempotency-Key": [_("Use 1 to 255 characters.")]})
    return key


def _find_by_key(actor: Any, key: str) -> Pledge | None:
    return db.session.scalar(select(Pledge).where(Pledge.investor_id == actor.id, Pledge.idempotency_key == key))


def _reserve_pledge(actor: Any, campaign: Any, data: Any, digest: str, key: str | None, *, now: datetime,
                    ip_address: str | None) -> Pledge:
    """Every check, then the pending pledge and its room, committed together (the first transaction)."""
    clean = _load(data)
    if not gateway().supports_payment_method(clean["payment_method"]):
        raise ValidationFailed(_("Unknown payment method."),
                               {"payment_method": [_("Unknown payment method %(id)s.", id=clean["payment_method"])]})
    _check_campaign(campaign, clean, now)
    j = investors.current_jurisdiction()
    context = investors.investor_context(actor, now)
    check_readiness(actor, now, j, context)
    facts = context.facts
    if facts is None:
        raise NotAllowed(_("Fill in your investor profile before pledging."))
    amount, currency = clean["amount"], campaign.currency
    already = 0
    if limits.annual_cap_applies(facts, j):
        # Held until the reservation commits: this investor's next pledge waits and counts this one.
        investors.hold_profile(context.profile)
        already = pledged_this_year(actor, currency, now, j)
    decision = limits.check_pledge(facts, amount, currency, now, acknowledged=clean["acknowledge_risk"],
                                   already_pledged_this_year=already, profile=j)
    decision.raise_if_refused()
    fund = context.fund if facts.kind is limits.InvestorKind.FUND else None

    pledge = _insert_reserving(
        dict(campaign_id=campaign.id, investor_id=actor.id, fund_id=fund.id if fund else None, amount=amount,
             currency=currency, status=PledgeStatus.PENDING_PAYMENT.value, payment_method=clean["payment_method"],
             created_at=now, reflection_ends_at=_reflection_end(facts, now, j),
             kiis_version=campaign.current_kiis_version, idempotency_key=key, request_hash=digest),
        {"actor": actor, "ip_address": ip_address, "at": now,
         "details": {"campaign_id": campaign.id, "amount": amount, "currency": currency,
                     "kiis_version": campaign.current_kiis_version,
                     "risk_acknowledged": bool(clean["acknowledge_risk"])}},
        now=now)
    _commit_keeping(pledge)
    return pledge


_INSERT_PLEDGE = insert(pledge_table).returning(pledge_table.c.id)
_NEW_COLUMNS = tuple(attr.key for attr in inspect(Pledge).column_attrs if attr.key != "id")


def _reserving_insert_pg() -> Any:
    """PostgreSQL: the room, the pledge and its audit entry in one statement (data-modifying
    CTEs). A full or closed round updates no campaign row, so nothing is inserted either;
    the campaign row is locked from this statement to the commit that follows it."""
    room = _RESERVE.cte("room")
    values = select(*(bindparam(f"new_{key}", type_=pledge_table.c[key].type) for key in _NEW_COLUMNS))
    new = (insert(pledge_table).from_select(list(_NEW_COLUMNS), values.select_from(room))
           .returning(pledge_table.c.id).cte("new_pledge"))
    logged = deferred_insert_from(new, "pledge", new.c.id).cte("logged")
    return select(new.c.id).add_cte(logged)


_RESERVING_INSERT_PG = _reserving_insert_pg()


def _insert_reserving(values: dict[str, Any], audit_entry: dict[str, Any], *, now: datetime) -> Pledge:
    """Insert the pending pledge and its "pledge.created" audit entry and take its room; adopt
    the pledge into the session as loaded (no ORM flush, no re-SELECT). The entry is deferred,
    chained by the next sealer: the chain lock must not be taken while the campaign row is held.

    On PostgreSQL one statement does it all, so a pledge's first transaction costs one round
    trip; elsewhere three, the room last. A duplicate Idempotency-Key raises IntegrityError,
    a round without room a StateConflict (409), and either way nothing is kept.
    """
    row = {key: None for key in _NEW_COLUMNS} | values
    if db.session.get_bind().dialect.name == "postgresql":
        params = {f"new_{key}": value for key, value in row.items()} | deferred_params("pledge.created", **audit_entry)
        pledge_id = db.session.execute(_RESERVING_INSERT_PG, {
            **params, "campaign_id": row["campaign_id"], "amount": row["amount"], "now": now}).scalar()
        if pledge_id is None:
            raise _room_conflict(row["campaign_id"], row["amount"], now)
        _expire_campaign(row["campaign_id"])
    else:
        pledge_id = db.session.execute(_INSERT_PLEDGE, row).scalar_one()
        audit_deferred("pledge.created", subject_type="pledge", subject_id=pledge_id, **audit_entry)
        _reserve(row["campaign_id"], row["amount"], now)  # last: the hot row is locked briefly
    return adopt(Pledge(id=pledge_id, **row))


def _replay(existing: Pledge, digest: str, *, now: datetime, return_url: Callable[[int], str] | None) -> PledgeOutcome:
    if existing.request_hash != digest:
        raise ValidationFailed(_("This Idempotency-Key was used for a different request."),
                               {"Idempotency-Key": [_("Already used with another body; use a new key.")]})
    if existing.status == PledgeStatus.PENDING_PAYMENT and existing.gateway_reference is None:
        # The first attempt never learnt the charge's outcome (timeout, crash): ask again
        # with the same gateway key, which cannot charge twice.
        return PledgeOutcome(_charge(existing, now=now, return_url=return_url), replayed=True)
    if existing.status == PledgeStatus.FAILED:
        raise PaymentDeclined(existing.failure_message or _("The payment failed."),
                              {"payment_method": [existing.failure_message or _("The payment failed.")]},
                              pledge_id=existing.id)
    return PledgeOutcome(existing, replayed=True)


def _charge(pledge: Pledge, *, now: datetime, return_url: Callable[[int], str] | None) -> Pledge:
    try:
        result = gateway().charge(
            amount=pledge.amount, currency=pledge.currency, payment_method=pledge.payment_method,
            idempotency_key=charge_key(pledge.id),
            metadata={"pledge_id": str(pledge.id), "campaign_id": str(pledge.campaign_id)},
            return_url=return_url(pledge.id) if return_url else "",
        )
    except GatewayError as exc:
        log.warning("charge for pledge %s failed to reach the gateway: %s", pledge.id, exc)
        raise GatewayUnavailable(_("The payment provider did not answer. Try again with the same Idempotency-Key; "
                                   "you will not be charged twice.")) from exc
    record_charge_result(pledge, result, now=now)
    _commit_keeping(pledge)
    _raise_if_failed(pledge)
    return pledge


def _raise_if_failed(pledge: Pledge) -> None:
    if pledge.status == PledgeStatus.FAILED:
        message = pledge.failure_message or _("The payment failed.")
        raise PaymentDeclined(message, {"payment_method": [message]}, pledge_id=pledge.id)


def record_charge_result(pledge: Pledge, result: ChargeResult, *, now: datetime) -> Pledge:
    """Apply what the gateway says about the pledge's charge. Idempotent; flushes, never commits.

    The one place a charge outcome lands, whether it comes from the charge call, the 3-D
    Secure confirmation, a webhook or reconciliation. A charge that succeeds after the
    pledge already failed or expired (its room given away) is refunded at once.
    """
    if result.status == "succeeded":
        # No audit entry here: the ledger transaction is the record of the payment, and
        # the hash-chained audit log's commit lock would sit on the hot campaign row.
        if not _pay(pledge, result.reference, now=now) and pledge.status in (
                PledgeStatus.FAILED, PledgeStatus.EXPIRED) and pledge.refunded_at is None:
            _refund_late_charge(pledge, result, now=now)
        return pledge
    if result.status in ("requires_action", "processing"):
        db.session.execute(update(pledge_table).where(
            pledge_table.c.id == pledge.id, pledge_table.c.status == PledgeStatus.PENDING_PAYMENT.value,
        ).values(gateway_reference=result.reference, next_action_url=result.next_action_url))
        db.session.refresh(pledge)
        return pledge
    message = result.failure_message or _("The payment failed.")
    if _transition(pledge, Event.FAIL, gateway_reference=result.reference, failure_code=result.failure_code,
                   failure_message=message, next_action_url=None):
        audit("pledge.failed", subject=pledge, at=now, details={"code": result.failure_code})
        _release(pledge)
    return pledge


_PAY_VALUES = {"paid_at": None, "gateway_reference": None, "next_action_url": None, "failure_code": None,
               "failure_message": None}


#: PostgreSQL: the PAY transition as the guarding CTE of the paid pledge's posting (``_pay``).
_PAID_PG = (_transition_statement(Event.PAY, tuple(sorted(_PAY_VALUES)))
            .returning(pledge_table.c.id, pledge_table.c.campaign_id, pledge_table.c.amount).cte("paid"))


def _counted_pg(claimed: Any) -> Any:
    """The round's counters, moved in the posting's statement only if the posting was made."""
    return (update(campaign_table).where(_c.id == _PAID_PG.c.campaign_id, select(claimed.c.id).exists())
            .values(reserved_amount=_c.reserved_amount - _PAID_PG.c.amount,
                    raised_amount=_c.raised_amount + _PAID_PG.c.amount, backers_count=_c.backers_count + 1)
            .cte("counted"))


def _pay(pledge: Pledge, reference: str, *, now: datetime) -> bool:
    """pending_payment → paid, the payment posted to escrow and counted toward the round; False
    if another process moved the pledge first (then nothing changed and it is re-read).

    On PostgreSQL one statement does the three; elsewhere three, the hot campaign row last,
    so it is locked only until the commit.
    """
    values = _PAY_VALUES | {"paid_at": now, "gateway_reference": reference}
    if db.session.get_bind().dialect.name == "postgresql":
        params = {"pledge_id": pledge.id, **{f"new_{key}": value for key, value in values.items()}}
        if not ledger.post_pledge_paid_guarded_pg(pledge, guard=_PAID_PG, also=(_counted_pg,), params=params,
                                                  now=now):
            db.session.refresh(pledge)
            return False
        set_committed_value(pledge, "status", PledgeStatus.PAID.value)
        for key, value in values.items():
            set_committed_value(pledge, key, value)
        _expire_campaign(pledge.campaign_id)
        return True
    if not _transition(pledge, Event.PAY, **values):
        return False
    ledger.post_pledge_paid(pledge, now=now)
    _count(pledge)
    return True


def _refund_late_charge(pledge: Pledge, result: ChargeResult, *, now: datetime) -> None:
    """Money arrived for a pledge we had given up on: record it, then give it straight back."""
    refund = gateway().refund(charge_reference=result.reference, amount=pledge.amount,
                              idempotency_key=refund_key(pledge.id), metadata={"pledge_id": str(pledge.id)})
    if refund.status == "failed":
        raise GatewayError(f"late-charge refund for pledge {pledge.id} failed: {refund.failure_message}")
    ledger.post_pledge_paid(pledge, now=now)
    ledger.post_pledge_refunded(pledge, now=now)
    db.session.execute(update(pledge_table).where(pledge_table.c.id == pledge.id).values(
        gateway_reference=result.reference, refunded_at=now, refund_reference=refund.reference,
        refund_reason="late_payment"))
    db.session.refresh(pledge)
    audit("pledge.late_payment_refunded", subject=pledge, at=now, details={"reference": result.reference})


def reconcile_pledge(pledge: Pledge, *, now: datetime) -> Pledge:
    """Re-read the charge from the gateway and apply it (webhooks, the return from 3-D Secure)."""
    if pledge.gateway_reference is None:
        return pledge
    return record_charge_result(pledge, gateway().retrieve(pledge.gateway_reference), now=now)


def confirm_pledge(pledge_id: int, actor: Any, *, now: datetime) -> Pledge:
    """The investor passed the 3-D Secure step: finish the charge and record it. Commits."""
    pledge = get_own_pledge(pledge_id, actor)
    if pledge.status != PledgeStatus.PENDING_PAYMENT or pledge.gateway_reference is None:
        raise StateConflict(_("This pledge is not waiting for a confirmation (it is %(status)s).",
                              status=pledge.status.replace("_", " ")))
    try:
        result = gateway().confirm(reference=pledge.gateway_reference, idempotency_key=confirm_key(pledge.id))
    except GatewayError as exc:
        raise GatewayUnavailable(_("The payment provider did not answer. Try again.")) from exc
    record_charge_result(pledge, result, now=now)
    db.session.commit()
    _raise_if_failed(pledge)
    return pledge


def abort_pledge(pledge_id: int, actor: Any, *, now: datetime) -> Pledge:
    """The investor cancelled the 3-D Secure step: the pledge fails and frees its room. Commits."""
    pledge = get_own_pledge(pledge_id, actor)
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        raise StateConflict(_("This pledge is not waiting for a confirmation (it is %(status)s).",
                              status=pledge.status.replace("_", " ")))
    record_charge_result(pledge, ChargeResult("failed", pledge.gateway_reference or "", "authentication_cancelled",
                                              _("You cancelled the card authentication.")), now=now)
    db.session.commit()
    return pledge


def revoke_pledge(pledge_id: int, actor: Any, *, now: datetime, ip_address: str | None = None) -> Pledge:
    """Revoke during the reflection period and refund through the gateway. Commits twice.

    The pledge stops counting toward the round in the first transaction; the refund is
    asked for after that commit. If the gateway is unreachable the pledge stays
    ``revoked`` and ``refund_revoked`` finishes the refund later.
    """
    pledge = get_own_pledge(pledge_id, actor)
    if pledge.status == PledgeStatus.REVOKED or pledge.refund_reason == "revoked":
        raise StateConflict(_("This pledge is already revoked."), {"status": [pledge.status]})
    if pledge.status != PledgeStatus.PAID:
        raise StateConflict(_("Only a paid pledge can be revoked; this one is %(status)s.",
                              status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    if pledge.reflection_ends_at is None:
        raise StateConflict(_("This pledge has no reflection period."), {"reflection_ends_at": [_("None applies.")]})
    if now >= pledge.reflection_ends_at:
        raise StateConflict(_("The reflection period ended on %(deadline)s.",
                              deadline=pledge.reflection_ends_at.strftime("%Y-%m-%d %H:%M UTC")),
                            {"reflection_ends_at": [_("Passed.")]})
    if not _transition(pledge, Event.REVOKE, extra_where=pledge_table.c.reflection_ends_at > now, revoked_at=now):
        raise StateConflict(_("This pledge can no longer be revoked (it is %(status)s).",
                              status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    audit("pledge.revoked", actor=actor, subject=pledge, ip_address=ip_address, at=now)
    _uncount(pledge)
    db.session.commit()
    try:
        refund_pledge(pledge, now=now, reason="revoked")
    except GatewayError as exc:
        db.session.rollback()
        log.warning("refund of revoked pledge %s deferred: %s", pledge.id, exc)
        return db.session.get(Pledge, pledge_id)
    db.session.commit()
    return pledge


def refund_pledge(pledge: Pledge, *, now: datetime, reason: str) -> Pledge:
    """Give a paid or revoked pledge's money back through the gateway, and post it. Flushes.

    Idempotent: a refunded pledge is returned as it is; the gateway key ``pledge-<id>-refund``
    and the ledger key make a repeated call after a crash move nothing twice. For the jobs:
    failed and cancelled rounds (``reason`` "round_failed", "round_cancelled"). A refund
    from ``paid`` of a round that is over leaves its ``raised_amount`` as the record of what
    was raised (a live round's is reduced); revocation already took its pledge out of it.

    :raises GatewayError: the gateway is unreachable (retry later; nothing was recorded).
    :raises RefundFailed: the gateway refused the refund.
    """
    if pledge.status == PledgeStatus.REFUNDED:
        return pledge
    if pledge.status not in (PledgeStatus.PAID, PledgeStatus.REVOKED):
        raise IllegalTransition(_("A pledge that is %(status)s cannot be refunded.",
                                  status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    result = gateway().refund(charge_reference=pledge.gateway_reference or "", amount=pledge.amount,
                              idempotency_key=refund_key(pledge.id),
                              metadata={"pledge_id": str(pledge.id), "reason": reason})
    if result.status == "failed":
        raise RefundFailed(_("The refund was refused: %(message)s", message=result.failure_message or ""))
    was_paid = pledge.status == PledgeStatus.PAID
    if _transition(pledge, Event.REFUND, refunded_at=now, refund_reference=result.reference,
                   refund_reason=pledge.refund_reason or reason):
        ledger.post_pledge_refunded(pledge, now=now)
        audit("pledge.refunded", subject=pledge, at=now, details={"reason": reason, "reference": result.reference})
        if was_paid:
            _uncount_if_live(pledge)
    return pledge


def record_gateway_refund(pledge: Pledge, *, amount_refunded: int, now: datetime) -> Pledge:
    """The gateway reports the pledge's charge refunded (our own refund, or one made in the
    provider's dashboard). Idempotent; flushes. Only a full refund changes the pledge."""
    if pledge.status not in (PledgeStatus.PAID, PledgeStatus.REVOKED) or amount_refunded < pledge.amount:
        return pledge
    was_paid = pledge.status == PledgeStatus.PAID
    if _transition(pledge, Event.REFUND, refunded_at=now, refund_reason=pledge.refund_reason or "gateway_refund"):
        ledger.post_pledge_refunded(pledge, now=now)
        audit("pledge.refunded", subject=pledge, at=now, details={"reason": pledge.refund_reason, "source": "gateway"})
        if was_paid:
            _uncount_if_live(pledge)
    return pledge


def _uncount_if_live(pledge: Pledge) -> None:
    """A paid pledge refunded while its round is still live leaves the round."""
    c = campaign_table.c
    db.session.execute(update(campaign_table).where(c.id == pledge.campaign_id, c.status == CampaignStatus.LIVE.value)
                       .values(raised_amount=c.raised_amount - pledge.amount, backers_count=c.backers_count - 1))
    _expire_campaign(pledge.campaign_id)


def settle_pledge(pledge: Pledge, *, now: datetime) -> bool:
    """Mark a paid pledge as paid out to the owner (the payout job posts the settlement). Flushes."""
    return _transition(pledge, Event.SETTLE, settled_at=now)


# --- sweeps (the jobs schedule these; each is idempotent and commits per item) ---------------------


def expire_pledge(pledge: Pledge, *, now: datetime) -> bool:
    """Expire one pledge left unpaid; True if it expired now. Flushes; the sweep commits per item.

    A pledge with a charge is reconciled with the gateway first (the investor may have
    paid a moment ago, and then it is recorded as paid instead). The conditional UPDATE is
    the claim, so two sweeps at once expire each pledge once.

    :raises GatewayError: the gateway could not be asked; leave the pledge for the next sweep.
    """
    if pledge.status != PledgeStatus.PENDING_PAYMENT:
        return False
    if pledge.gateway_reference is not None:
        reconcile_pledge(pledge, now=now)
    if pledge.status == PledgeStatus.PENDING_PAYMENT and _transition(
            pledge, Event.EXPIRE, failure_code="expired", failure_message=_("The payment was not completed in time.")):
        audit("pledge.expired", subject=pledge, at=now)
        _release(pledge)
        return True
    return False


def expire_pending(now: datetime, *, timeout: timedelta | None = None, batch_size: int = 100) -> int:
    """Expire every pledge left ``pending_payment`` longer than the timeout; returns how many.

    Commits per pledge, so a sweep killed half-way leaves the rest to the next one.
    """
    timeout = timeout or current_app.config["PLEDGE_PAYMENT_TIMEOUT"]
    ids = list(db.session.scalars(
        select(Pledge.id).where(Pledge.status == PledgeStatus.PENDING_PAYMENT.value, Pledge.created_at <= now - timeout)
        .order_by(Pledge.id).limit(batch_size)))
    db.session.commit()
    expired = 0
    for pledge_id in ids:
        pledge = db.session.get(Pledge, pledge_id)
        try:
            expired += bool(pledge is not None and expire_pledge(pledge, now=now))
            db.session.commit()
        except GatewayError as exc:
            db.session.rollback()
            log.warning("pledge %s not expired: gateway unreachable (%s)", pledge_id, exc)
    return expired


def refund_revoked(now: datetime, *, batch_size: int = 100) -> int:
    """Finish refunds of revoked pledges whose refund could not be made at once; returns how many."""
    ids = list(db.session.scalars(select(Pledge.id).where(Pledge.status == PledgeStatus.REVOKED.value)
                                  .order_by(Pledge.id).limit(batch_size)))
    done = 0
    for pledge_id in ids:
        pledge = db.session.get(Pledge, pledge_id)
        try:
            refund_pledge(pledge, now=now, reason="revoked")
            db.session.commit()
            done += 1
        except (GatewayError, RefundFailed) as exc:
            db.session.rollback()
            log.warning("refund of pledge %s failed again: %s", pledge_id, exc)
    return done


# --- the operator's view of a campaign's money -----------------------------------------------------


def campaign_money(campaign_id: int, actor: Any) -> dict:
    """Escrow balance, ledger transactions and pledges of a campaign (operator only)."""
    if not _is_operator(actor):
        raise NotFound(_("No such campaign."))
    campaign = campaigns.get_visible(campaign_id, actor)
    return {
        "campaign": campaign,
        "escrow_balance": ledger.escrow_balance(campaign.id),
        "transactions": ledger.transactions_for_campaign(campaign.id),
        "pledges": campaign_pledges(campaign.id),
    }
