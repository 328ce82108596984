"""Every write of a pledge row, with its SQLite and PostgreSQL forms side by side.

The pledge services decide *whether* a pledge moves; this module is *how* the move is
written: the pledge row (one conditional UPDATE per lifecycle event, so two processes
racing on one pledge cannot both win), its ledger posting, the round's counters (through
``campaigns.room``, their only writer) and its audit entry. Each operation flushes and
never commits.

Two operations sit on the pledge hot path and have a PostgreSQL form of their own, one
data-modifying statement instead of three round trips: ``insert_reserving`` (room, pending
pledge, audit entry) and ``pay`` (the PAY transition, the posting to escrow, the round's
counters). ``store()`` chooses the form once per database; ``tests/payments/test_store_parity.py``
runs every operation on both databases and compares what they wrote.

The statements are built once with bound parameters: a statement object reused with new
values skips SQLAlchemy's per-call construction and cache-key work, which costs more CPU
than the round trip itself.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm.attributes import set_committed_value

from app.campaigns import room
from app.core.adopted import adopt
from app.core.audit import (
    DEFERRED,
    audit,
    audit_deferred,
    audit_deferred_many,
    deferred_insert_from,
    deferred_params,
)
from app.extensions import db
from app.payments import ledger
from app.payments.lifecycle import Event, sources, target
from app.payments.models import Pledge, PledgeStatus

pledge_table = Pledge.__table__
_p = pledge_table.c

#: ``transition``'s UPDATE per (event, columns set), built on first use and reused.
_TRANSITIONS: dict[tuple[Event, tuple[str, ...]], Any] = {}


def _transition_statement(event: Event, columns: tuple[str, ...]) -> Any:
    statement = _TRANSITIONS.get((event, columns))
    if statement is None:
        statement = _TRANSITIONS[(event, columns)] = (
            update(pledge_table)
            # ORed equalities, not IN: an IN list is re-rendered on every execution.
            .where(_p.id == bindparam("pledge_id"), or_(*(_p.status == s.value for s in sources(event))))
            .values(status=target(event).value, **{column: bindparam(f"new_{column}") for column in columns}))
    return statement


def _params(pledge_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return {"pledge_id": pledge_id, **{f"new_{column}": value for column, value in values.items()}}


def _moved(pledge: Pledge, event: Event, values: dict[str, Any]) -> None:
    """The winner's instance, updated in memory as committed (no re-SELECT)."""
    set_committed_value(pledge, "status", target(event).value)
    for key, value in values.items():
        set_committed_value(pledge, key, value)


_NEW_COLUMNS = tuple(attr.key for attr in inspect(Pledge).column_attrs if attr.key != "id")
_INSERT_PLEDGE = insert(pledge_table).returning(_p.id)
#: The columns a payment sets; ``pay`` fills in the time and the charge's reference.
_PAY_VALUES = {"paid_at": None, "gateway_reference": None, "next_action_url": None, "failure_code": None,
               "failure_message": None}


class PledgeStore(ABC):
    """The writes both databases spell the same way; ``insert_reserving`` and ``pay`` are per database."""

    @abstractmethod
    def insert_reserving(self, values: dict[str, Any], audit_entry: dict[str, Any], *, now: datetime) -> Pledge:
        """Insert the pending pledge and its deferred "pledge.created" audit entry and take its room;
        adopt the pledge into the session as loaded (no ORM flush, no re-SELECT).

        The entry is chained by the next sealer: the chain lock must not be taken while the
        campaign row is held. A duplicate Idempotency-Key raises IntegrityError, a round
        without room ``room.refusal``'s 409, and either way the caller's rollback keeps nothing.
        """

    @abstractmethod
    def pay(self, pledge: Pledge, reference: str | None, *, now: datetime) -> bool:
        """pending_payment → paid, posted to escrow and counted toward the round; False if another
        process moved the pledge first (then nothing changed, and the pledge is re-read)."""

    def transition(self, pledge: Pledge, event: Event, *, extra_where: Any = None, **values: Any) -> bool:
        """Move ``pledge`` by ``event`` with one conditional UPDATE; False if another process moved it
        first (then the pledge is re-read)."""
        statement = _transition_statement(event, tuple(sorted(values)))
        if extra_where is not None:
            statement = statement.where(extra_where)
        if db.session.execute(statement, _params(pledge.id, values)).rowcount != 1:
            db.session.refresh(pledge)
            return False
        _moved(pledge, event, values)
        return True

    def fail(self, pledge: Pledge, *, now: datetime, reference: str, code: str | None, message: str) -> bool:
        """The charge failed: the pledge is ``failed`` and its room free again."""
        if not self.transition(pledge, Event.FAIL, gateway_reference=reference, failure_code=code,
                               failure_message=message, next_action_url=None):
            return False
        audit("pledge.failed", subject=pledge, at=now, details={"code": code})
        room.release(pledge.campaign_id, pledge.amount)
        return True

    def expire(self, pledge: Pledge, *, now: datetime, message: str) -> bool:
        """Left unpaid too long: the pledge is ``expired`` and its room free again."""
        if not self.transition(pledge, Event.EXPIRE, failure_code="expired", failure_message=message):
            return False
        audit("pledge.expired", subject=pledge, at=now)
        room.release(pledge.campaign_id, pledge.amount)
        return True

    def await_action(self, pledge: Pledge, *, reference: str, next_action_url: str | None) -> None:
        """The charge waits for the investor (3-D Secure) or the provider: note where, status unchanged."""
        db.session.execute(update(pledge_table).where(
            _p.id == pledge.id, _p.status == PledgeStatus.PENDING_PAYMENT.value,
        ).values(gateway_reference=reference, next_action_url=next_action_url))
        db.session.refresh(pledge)

    def await_transfer(self, pledge: Pledge, *, reference: str, pay_by: datetime) -> None:
        """A bank-transfer pledge's reference and the time it expires unpaid."""
        db.session.execute(update(pledge_table).where(_p.id == pledge.id).values(payment_reference=reference,
                                                                                 pay_by=pay_by))
        set_committed_value(pledge, "payment_reference", reference)
        set_committed_value(pledge, "pay_by", pay_by)

    def restart_reflection(self, pledge: Pledge, *, ends_at: datetime) -> None:
        """A bank-transfer pledge's reflection period runs from its payment, not from the pledge."""
        db.session.execute(update(pledge_table).where(_p.id == pledge.id).values(reflection_ends_at=ends_at))
        set_committed_value(pledge, "reflection_ends_at", ends_at)

    def revoke(self, pledge: Pledge, *, now: datetime, actor: Any, ip_address: str | None) -> bool:
        """paid → revoked within the reflection period; the pledge stops counting toward the round."""
        if not self.transition(pledge, Event.REVOKE, extra_where=_p.reflection_ends_at > now, revoked_at=now):
            return False
        audit("pledge.revoked", actor=actor, subject=pledge, ip_address=ip_address, at=now)
        room.uncount(pledge.campaign_id, pledge.amount)
        return True

    def refund(self, pledge: Pledge, *, now: datetime, reason: str, reference: str | None = None,
               source: str | None = None) -> bool:
        """paid | revoked → refunded, posted back out of escrow. A paid pledge of a live round leaves
        it; one of a round that is over leaves ``raised_amount`` as the record of what was raised.

        :param reference: our refund's reference at the gateway (none for one the gateway reports).
        :param source: who reported it, when not our own refund ("gateway").
        """
        was_paid = pledge.status == PledgeStatus.PAID
        values: dict[str, Any] = {"refunded_at": now, "refund_reason": pledge.refund_reason or reason}
        if source is None:
            values["refund_reference"] = reference
        if not self.transition(pledge, Event.REFUND, **values):
            return False
        ledger.post_pledge_refunded(pledge, now=now)
        details = ({"reason": reason, "reference": reference} if source is None
                   else {"reason": pledge.refund_reason, "source": source})
        audit("pledge.refunded", subject=pledge, at=now, details=details)
        if was_paid:
            room.uncount(pledge.campaign_id, pledge.amount, only_if_live=True)
        return True

    def refund_late_charge(self, pledge: Pledge, *, now: datetime, charge_reference: str,
                           refund_reference: str) -> None:
        """Money arrived for a pledge already failed or expired, and went straight back: both postings."""
        ledger.post_pledge_paid(pledge, now=now)
        ledger.post_pledge_refunded(pledge, now=now)
        db.session.execute(update(pledge_table).where(_p.id == pledge.id).values(
            gateway_reference=charge_reference, refunded_at=now, refund_reference=refund_reference,
            refund_reason="late_payment"))
        db.session.refresh(pledge)
        audit("pledge.late_payment_refunded", subject=pledge, at=now, details={"reference": charge_reference})

    def settle(self, pledge: Pledge, *, now: datetime) -> bool:
        """paid → settled: paid out to the owner (the payout job posts the settlement)."""
        return self.transition(pledge, Event.SETTLE, settled_at=now)

    @abstractmethod
    def refund_many(self, refunds: Sequence[tuple[Any, str, str]], *, now: datetime) -> list[int]:
        """A batch of paid pledges refunded at the gateway, recorded in a few set-based statements:
        paid → refunded (the REFUND move, only those still paid), each one's ``pledge_refunded``
        posting (key ``pledge-<id>-refunded``, the same accounts, amounts and description) and
        its deferred "pledge.refunded" audit entry. Returns the ids moved, in id order.

        ``refunds`` are ``(pledge, reason, refund reference)``; a pledge is anything with the
        ``Pledge`` columns as attributes (a Core row will do). The rounds' counters do not move:
        this is for rounds that are over, whose ``raised_amount`` stays the record (``refund``).
        """


    def settle_many(self, pledges: Sequence[Pledge], *, now: datetime) -> list[Pledge]:
        """A batch of pending bank-transfer pledges paid by a statement, in a few set-based
        statements: pending_payment → paid (the PAY move, only those still pending and before
        their ``pay_by``, locked first), each one's reflection period restarted from now, its ``pledge_paid`` posting
        (key ``pledge-<id>-paid``, the accounts ``ledger.pledge_paid`` names) and each round's
        counters moved once for all its pledges. Returns the pledges moved, in id order (their
        loaded attributes set as written); the caller audits and tells the investors.
        """
        wanted = {p.id: p for p in pledges}
        if not wanted:
            return []
        still = set(db.session.scalars(
            select(_p.id).where(_p.id.in_(list(wanted)), _p.status.in_([s.value for s in sources(Event.PAY)]),
                                or_(_p.pay_by.is_(None), _p.pay_by > now))
            .order_by(_p.id).with_for_update()))
        moved = [wanted[i] for i in sorted(still)]
        if not moved:
            return []
        rows = []
        for pledge in moved:
            reflection = (pledge.reflection_ends_at - pledge.created_at) if pledge.reflection_ends_at else None
            rows.append({"pledge_id": pledge.id, "now": now, "ends": now + reflection if reflection else None})
        self._mark_settled(rows)
        ledger.post_new([ledger.pledge_paid(pledge) for pledge in moved], now=now)
        per_round: dict[int, list[int]] = {}
        for pledge in moved:
            per_round.setdefault(pledge.campaign_id, []).append(pledge.amount)
        for campaign_id in sorted(per_round):
            room.count(campaign_id, sum(per_round[campaign_id]), pledges=len(per_round[campaign_id]))
        paid = target(Event.PAY).value
        for pledge, row in zip(moved, rows, strict=True):
            for name, value in (("status", paid), ("paid_at", now), ("reflection_ends_at", row["ends"])):
                set_committed_value(pledge, name, value)
        return moved

    def _mark_settled(self, rows: list[dict[str, Any]]) -> None:
        """pending_payment → paid for the locked pledges of ``settle_many`` (one executemany)."""
        db.session.execute(_SETTLED, rows)


class SequentialStore(PledgeStore):
    """SQLite (and any database without data-modifying CTEs): one statement per step, the hot
    campaign row last, so it stays locked only until the commit."""

    def refund_many(self, refunds: Sequence[tuple[Any, str, str]], *, now: datetime) -> list[int]:
        return _refund_many_sequential(refunds, now=now)

    def insert_reserving(self, values: dict[str, Any], audit_entry: dict[str, Any], *, now: datetime) -> Pledge:
        row = {key: None for key in _NEW_COLUMNS} | values
        pledge_id = db.session.execute(_INSERT_PLEDGE, row).scalar_one()
        audit_deferred("pledge.created", subject_type="pledge", subject_id=pledge_id, **audit_entry)
        room.reserve(row["campaign_id"], row["amount"], now)
        return adopt(Pledge(id=pledge_id, **row))

    def pay(self, pledge: Pledge, reference: str, *, now: datetime) -> bool:
        if not self.transition(pledge, Event.PAY, **(_PAY_VALUES | {"paid_at": now, "gateway_reference": reference})):
            return False
        ledger.post_pledge_paid(pledge, now=now)
        room.count(pledge.campaign_id, pledge.amount)
        return True


def _reserving_insert_pg() -> Any:
    """The room, the pledge and its audit entry in one statement. A full or closed round
    updates no campaign row, so nothing is inserted either; the campaign row is locked from
    this statement to the commit that follows it."""
    taken = room.reserving_cte()
    values = select(*(bindparam(f"new_{key}", type_=pledge_table.c[key].type) for key in _NEW_COLUMNS))
    new = (insert(pledge_table).from_select(list(_NEW_COLUMNS), values.select_from(taken))
           .returning(_p.id).cte("new_pledge"))
    logged = deferred_insert_from(new, "pledge", new.c.id).cte("logged")
    return select(new.c.id).add_cte(logged)


_RESERVING_INSERT_PG = _reserving_insert_pg()
#: The PAY transition as the guarding CTE of the paid pledge's posting.
_PAID_PG = (_transition_statement(Event.PAY, tuple(sorted(_PAY_VALUES)))
            .returning(_p.id, _p.campaign_id, _p.amount).cte("paid"))


def _counted_pg(claimed: Any) -> Any:
    """The round's counters, moved in the posting's statement only if the posting was made."""
    return room.counting_cte(_PAID_PG, when=select(claimed.c.id).exists())


class OneStatementStore(PledgeStore):
    """PostgreSQL: each hot-path write is one data-modifying statement (one round trip)."""

    def _mark_settled(self, rows: list[dict[str, Any]]) -> None:
        db.session.execute(_SETTLED_PG, {"ids": [r["pledge_id"] for r in rows], "ends": [r["ends"] for r in rows],
                                         "now": rows[0]["now"], "paid": target(Event.PAY).value})

    def refund_many(self, refunds: Sequence[tuple[Any, str, str]], *, now: datetime) -> list[int]:
        return _refund_many_one_statement(refunds, now=now)

    def insert_reserving(self, values: dict[str, Any], audit_entry: dict[str, Any], *, now: datetime) -> Pledge:
        row = {key: None for key in _NEW_COLUMNS} | values
        params = {f"new_{key}": value for key, value in row.items()} | deferred_params("pledge.created", **audit_entry)
        pledge_id = db.session.execute(_RESERVING_INSERT_PG, {
            **params, "campaign_id": row["campaign_id"], "amount": row["amount"], "now": now}).scalar()
        if pledge_id is None:
            raise room.refusal(row["campaign_id"], now)
        room.forget(row["campaign_id"])
        return adopt(Pledge(id=pledge_id, **row))

    def pay(self, pledge: Pledge, reference: str, *, now: datetime) -> bool:
        values = _PAY_VALUES | {"paid_at": now, "gateway_reference": reference}
        if not ledger.post_guarded_pg(ledger.pledge_paid(pledge), guard=_PAID_PG, also=(_counted_pg,),
                                      params=_params(pledge.id, values), now=now):
            db.session.refresh(pledge)
            return False
        _moved(pledge, Event.PAY, values)
        room.forget(pledge.campaign_id)
        return True


class _Refund:
    """One pledge of ``refund_many``: its posting as ``ledger.pledge_refunded`` gives it, entries resolved."""

    __slots__ = ("details", "flow", "pledge", "reason", "reference")

    def __init__(self, pledge: Any, reason: str, reference: str) -> None:
        self.pledge, self.reason, self.reference = pledge, reason, reference
        self.flow = ledger.pledge_refunded(pledge)
        # As ``refund`` audits our own refund; the JSON text as the ORM would store it.
        self.details = {"reason": reason, "reference": reference}


def _prepared(refunds: Sequence[tuple[Any, str, str]]) -> tuple[list[_Refund], dict[Any, int]]:
    """The batch in id order, and the id of every ledger account its postings name (one query)."""
    batch = sorted((_Refund(*refund) for refund in refunds), key=lambda r: r.pledge.id)
    return batch, ledger.account_ids(ref for r in batch for ref, _ in r.flow.entries)


_REFUNDED, _PAID = target(Event.REFUND).value, PledgeStatus.PAID.value
if PledgeStatus.PAID not in sources(Event.REFUND):
    raise RuntimeError("the refund statements assume REFUND leaves from paid")
_ledger_tx, _ledger_entries = ledger.LedgerTransaction.__table__, ledger.LedgerEntry.__table__


def _refund_many_sqlite() -> tuple[Any, Any, Any]:
    still_paid = select(_p.id).where(_p.id.in_(bindparam("ids", expanding=True)), _p.status == _PAID)
    refunded = (update(pledge_table).where(_p.id == bindparam("pledge_id"), _p.status == _PAID)
                .values(status=_REFUNDED, refunded_at=bindparam("now"), refund_reference=bindparam("reference"),
                        refund_reason=func.coalesce(_p.refund_reason, bindparam("reason"))))
    claimed = (sqlite.insert(_ledger_tx).on_conflict_do_nothing(index_elements=["idempotency_key"])
               .returning(_ledger_tx.c.id, _ledger_tx.c.pledge_id))
    return still_paid, refunded, claimed


_STILL_PAID_SQLITE, _REFUNDED_SQLITE, _CLAIM_TX_SQLITE = _refund_many_sqlite()
_INSERT_LEDGER_ENTRIES = insert(_ledger_entries)
#: PostgreSQL: the same from two arrays, one statement for the batch.
_SETTLED_PG = text("""
UPDATE pledges AS p SET status = :paid, paid_at = :now, reflection_ends_at = given.ends
FROM unnest(CAST(:ids AS integer[]), CAST(:ends AS timestamptz[])) AS given(id, ends)
WHERE p.id = given.id
""").bindparams(bindparam("now", type_=_p.paid_at.type))
_SETTLED = (update(pledge_table).where(_p.id == bindparam("pledge_id"))
            .values(status=target(Event.PAY).value, paid_at=bindparam("now"), reflection_ends_at=bindparam("ends")))


def _refund_many_sequential(refunds: Sequence[tuple[Any, str, str]], *, now: datetime) -> list[int]:
    """SQLite: a SELECT of those still paid (the write lock is held since BEGIN IMMEDIATE, so they
    stay paid), then one executemany each for the pledges, transactions, entries and audit entries."""
    batch, account_ids = _prepared(refunds)
    if not batch:
        return []
    paid = set(db.session.scalars(_STILL_PAID_SQLITE, {"ids": [r.pledge.id for r in batch]}))
    batch = [r for r in batch if r.pledge.id in paid]
    if not batch:
        return []
    db.session.execute(_REFUNDED_SQLITE, [{"pledge_id": r.pledge.id, "now": now, "reference": r.reference,
                                           "reason": r.reason} for r in batch])
    claimed = db.session.execute(_CLAIM_TX_SQLITE, [
        {"idempotency_key": r.flow.idempotency_key, "description": r.flow.description[:200], "created_at": now,
         "campaign_id": r.flow.campaign_id, "pledge_id": r.flow.pledge_id} for r in batch]).all()
    transaction_of = {row.pledge_id: row.id for row in claimed}
    entries = [{"transaction_id": transaction_of[r.pledge.id], "account_id": account_ids[ref], "amount": amount,
                "currency": ref.currency}
               for r in batch if r.pledge.id in transaction_of for ref, amount in r.flow.entries]
    if entries:
        db.session.execute(_INSERT_LEDGER_ENTRIES, entries)
    audit_deferred_many("pledge.refunded", (("pledge", r.pledge.id, r.details) for r in batch), at=now)
    return [r.pledge.id for r in batch]


def _refund_shape() -> tuple[tuple[str, str], tuple[str, str], tuple[tuple[int, str, str, int], ...]]:
    """``ledger.pledge_refunded`` as SQL pieces, read off the flow of a stand-in pledge, so the
    set-based posting cannot drift from the per-pledge one: the key's and the description's
    text around the pledge id, and per entry (order, account kind, whose account, sign)."""

    class StandIn:
        id, campaign_id, investor_id, fund_id, amount, currency = 900_000_001, 900_000_002, 900_000_003, None, 7, "EUR"
        payment_method = "pm_card_visa"  # a card's refund: the batch refunds cards only

    flow = ledger.pledge_refunded(StandIn)
    roles = {StandIn.campaign_id: "campaign", StandIn.investor_id: "investor", 0: "platform"}
    entries = tuple((n, ref.kind.value, roles[ref.owner_id], amount // StandIn.amount)
                    for n, (ref, amount) in enumerate(flow.entries, 1))
    if (flow.campaign_id, flow.pledge_id) != (StandIn.campaign_id, StandIn.id):
        raise RuntimeError("ledger.pledge_refunded no longer names the pledge and its campaign")
    key, description = flow.idempotency_key.split(str(StandIn.id)), flow.description.split(str(StandIn.id))
    return (key[0], key[1]), (description[0], description[1]), entries


_KEY, _DESCRIPTION, _ENTRY_SHAPE = _refund_shape()
_SHAPE_VALUES = ", ".join(f"({n}, '{kind}', '{role}', {sign})" for n, kind, role, sign in _ENTRY_SHAPE)

#: PostgreSQL: the whole batch in one statement from three arrays (ids, references, reasons):
#: the REFUND move of those still paid; their ``pledge_refunded`` transactions (claimed by
#: key), whose entries take the accounts the pledge's payment was posted to; and the deferred
#: audit entries of the pledges moved. Answers each pledge moved with the entries written.
_REFUND_MANY_PG = text("""
WITH given AS (
    SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:refs AS text[]), CAST(:reasons AS text[]))
        AS given(id, ref, reason)
), moved AS (
    UPDATE pledges AS p SET status = :refunded, refunded_at = :now, refund_reference = given.ref,
           refund_reason = coalesce(p.refund_reason, given.reason)
    FROM given WHERE p.id = given.id AND p.id = ANY(CAST(:ids AS integer[])) AND p.status = :paid
    RETURNING p.id, p.campaign_id, p.investor_id, p.fund_id, p.amount, p.currency, given.ref, given.reason
), claimed AS (
    INSERT INTO ledger_transactions (idempotency_key, description, created_at, campaign_id, pledge_id)
    SELECT :key_head || moved.id || :key_tail, :description_head || moved.id || :description_tail, :now,
           moved.campaign_id, moved.id
    FROM moved ORDER BY moved.id
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, pledge_id
), wanted AS (
    SELECT claimed.id AS transaction_id, shape.ord, shape.kind, moved.currency, shape.sign * moved.amount AS amount,
           CASE shape.role WHEN 'campaign' THEN 'campaign' WHEN 'platform' THEN 'platform'
                WHEN 'investor' THEN CASE WHEN moved.fund_id IS NULL THEN 'user' ELSE 'fund' END END AS owner_type,
           CASE shape.role WHEN 'campaign' THEN moved.campaign_id WHEN 'platform' THEN 0
                WHEN 'investor' THEN coalesce(moved.fund_id, moved.investor_id) END AS owner_id
    FROM claimed JOIN pledges AS moved ON moved.id = claimed.pledge_id
    CROSS JOIN (VALUES <shape>) AS shape(ord, kind, role, sign)
), entered AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
    SELECT wanted.transaction_id, account.id, wanted.amount, wanted.currency
    FROM wanted JOIN ledger_accounts AS account ON account.kind = wanted.kind
        AND account.owner_type = wanted.owner_type AND account.owner_id = wanted.owner_id
        AND account.currency = wanted.currency
    ORDER BY wanted.transaction_id, wanted.ord
    RETURNING transaction_id
), logged AS (
    INSERT INTO audit_log (created_at, action, subject_type, subject_id, details, prev_hash)
    SELECT :now, 'pledge.refunded', 'pledge', CAST(moved.id AS text),
           json_build_object('reason', moved.reason, 'reference', moved.ref), :deferred
    FROM moved ORDER BY moved.id
)
SELECT moved.id, (SELECT count(*) FROM claimed) AS transactions, (SELECT count(*) FROM entered) AS entries
FROM moved ORDER BY moved.id
""".replace("<shape>", _SHAPE_VALUES)).bindparams(bindparam("now", type_=_p.refunded_at.type))  # nosec B608  # <shape>: our constants


def _refund_many_one_statement(refunds: Sequence[tuple[Any, str, str]], *, now: datetime) -> list[int]:
    if not refunds:
        return []
    rows = db.session.execute(_REFUND_MANY_PG, {
        "ids": [pledge.id for pledge, _, _ in refunds], "refs": [reference for _, _, reference in refunds],
        "reasons": [reason for _, reason, _ in refunds], "now": now, "refunded": _REFUNDED, "paid": _PAID,
        "key_head": _KEY[0], "key_tail": _KEY[1], "description_head": _DESCRIPTION[0],
        "description_tail": _DESCRIPTION[1], "deferred": DEFERRED}).all()
    if rows and rows[0].entries != len(_ENTRY_SHAPE) * rows[0].transactions:
        # An account the payment was posted to is missing: never post a partial transaction.
        raise ledger.LedgerError(f"refund_many: {rows[0].entries} entries for {rows[0].transactions} transactions")
    return [row.id for row in rows]


_STORES: dict[str, PledgeStore] = {"postgresql": OneStatementStore()}
_SEQUENTIAL = SequentialStore()


def store() -> PledgeStore:
    """The store for the session's database, chosen by its dialect."""
    return _STORES.get(db.session.get_bind().dialect.name, _SEQUENTIAL)
