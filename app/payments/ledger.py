"""The double-entry ledger: every movement of money is one balanced transaction.

Conventions
-----------
* An entry's ``amount`` is signed minor units: **positive = debit, negative = credit**.
  The entries of every transaction sum to zero, in one currency. ``post`` refuses
  anything else, and is idempotent by a unique key derived from our own row ids.
* ``balance(account)`` reports the balance in the account's normal direction, so every
  balance a person reads is positive in the ordinary case.

Chart of accounts (one account per kind, owner and currency, created on first use)
---------------------------------------------------------------------------------
=================  ==========================  =======  ===============================================
kind               owner                       normal   holds
=================  ==========================  =======  ===============================================
gateway_clearing   the platform                debit    cash at the payment provider (an asset)
bank_clearing      the platform                debit    cash in the platform's client-money (nominal)
                                                        bank account: bank transfers in, withdrawals out
investor_funds     an investor (user) or fund  credit   the investor's wallet, available: repayments and
                                                        refunds to the wallet, less wallet pledges and
                                                        withdrawals requested (card money passes through)
withdrawals_pending an investor (user) or fund credit   the wallet's reserved part: withdrawals requested
                                                        and not yet seen paid (or returned) on a statement
campaign_escrow    a campaign                  credit   paid pledges held for the round
owner_payable      a project owner (user)      credit   a settled round's proceeds not yet paid out
platform_fees      the platform                credit   the platform's fee income
=================  ==========================  =======  ===============================================

The flows (each one ``post`` call, each key unique)
----------------------------------------------------
* pledge paid (``pledge-<id>-paid``):      Dr gateway_clearing, Cr investor_funds (the card money
  arrives);  Dr investor_funds, Cr campaign_escrow (it is committed to the round). By bank
  transfer the money arrives in bank_clearing instead; from the wallet only the second pair.
* pledge refunded (``pledge-<id>-refunded``): the reverse: Dr campaign_escrow, Cr investor_funds;
  Dr investor_funds, Cr gateway_clearing. A wallet or bank-transfer pledge's money stays in
  the wallet: only the first pair.
* withdrawal requested (``withdrawal-<id>-requested``): Dr investor_funds, Cr withdrawals_pending;
  paid (``-paid``, seen on a statement): Dr withdrawals_pending, Cr bank_clearing; returned
  (``-returned``): Dr withdrawals_pending, Cr investor_funds.
* round settled (``campaign-<id>-settlement``): Dr campaign_escrow gross; Cr platform_fees fee;
  Cr owner_payable gross − fee.
* payout sent (``campaign-<id>-payout``): Dr owner_payable, Cr gateway_clearing.
* repayments (the jobs) follow the same shape: Dr gateway_clearing, Cr investor_funds on
  receipt; Dr investor_funds, Cr gateway_clearing when paid out to the investor.

Hence a campaign's escrow balance = paid pledges − refunds − amounts settled, and it is
zero after its round is settled.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import bulk
from app.core.adopted import adopt
from app.core.money import SUPPORTED_CURRENCIES
from app.core.types import UTCDateTime, one_of
from app.extensions import db
from app.payments import methods


class LedgerError(Exception):
    """A transaction that would break double entry: a programming error, never user input."""


class AccountKind(StrEnum):
    GATEWAY_CLEARING = "gateway_clearing"
    BANK_CLEARING = "bank_clearing"
    INVESTOR_FUNDS = "investor_funds"
    WITHDRAWALS_PENDING = "withdrawals_pending"
    CAMPAIGN_ESCROW = "campaign_escrow"
    OWNER_PAYABLE = "owner_payable"
    PLATFORM_FEES = "platform_fees"


class OwnerType(StrEnum):
    PLATFORM = "platform"
    USER = "user"
    FUND = "fund"
    CAMPAIGN = "campaign"


#: +1 for debit-normal accounts (assets), -1 for credit-normal ones.
NORMAL_SIGN = {
    AccountKind.GATEWAY_CLEARING: 1,
    AccountKind.BANK_CLEARING: 1,
    AccountKind.INVESTOR_FUNDS: -1,
    AccountKind.WITHDRAWALS_PENDING: -1,
    AccountKind.CAMPAIGN_ESCROW: -1,
    AccountKind.OWNER_PAYABLE: -1,
    AccountKind.PLATFORM_FEES: -1,
}




class LedgerAccount(db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_type", "owner_id", "currency", name="uq_ledger_accounts_kind_owner_currency"),
        one_of("kind", AccountKind, "kind_known"),
        one_of("owner_type", OwnerType, "owner_type_known"),
    )
    audit_type = "ledger_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    owner_type: Mapped[str] = mapped_column(String(10))
    #: The user, fund or campaign id; 0 for platform accounts (NULLs would defeat the unique key).
    owner_id: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.kind} {self.owner_type}:{self.owner_id} {self.currency}>"


class LedgerTransaction(db.Model):
    __tablename__ = "ledger_transactions"
    audit_type = "ledger_transaction"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: Derived from our own row ids (``pledge-7-paid``): posting twice returns the first.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: What the transaction is about, for statements and exports (either may be null).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)

    entries: Mapped[list["LedgerEntry"]] = relationship(
        back_populates="transaction", lazy="selectin", order_by="LedgerEntry.id"
    )


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # signed minor units: + debit, − credit
    currency: Mapped[str] = mapped_column(String(3))  # the account's, repeated so sums need no join

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")


@dataclass(frozen=True)
class AccountRef:
    """Names an account without touching the database; ``post`` resolves it."""

    kind: AccountKind
    owner_type: OwnerType
    owner_id: int
    currency: str


@dataclass(frozen=True)
class Flow:
    """One named movement of money, ready to post: what ``post`` takes, as a value."""

    description: str
    entries: tuple[tuple[AccountRef, int], ...]
    idempotency_key: str
    campaign_id: int | None = None
    pledge_id: int | None = None


def gateway_clearing(currency: str) -> AccountRef:
    return AccountRef(AccountKind.GATEWAY_CLEARING, OwnerType.PLATFORM, 0, currency)


def platform_fees(currency: str) -> AccountRef:
    return AccountRef(AccountKind.PLATFORM_FEES, OwnerType.PLATFORM, 0, currency)


def campaign_escrow(campaign_id: int, currency: str) -> AccountRef:
    return AccountRef(AccountKind.CAMPAIGN_ESCROW, OwnerType.CAMPAIGN, campaign_id, currency)


def investor_funds(currency: str, *, user_id: int | None = None, fund_id: int | None = None) -> AccountRef:
    """A fund's account when ``fund_id`` is given (its managers' pledges are the fund's), else the user's."""
    if fund_id is not None:
        return AccountRef(AccountKind.INVESTOR_FUNDS, OwnerType.FUND, fund_id, currency)
    if user_id is None:
        raise LedgerError("investor_funds needs a user or a fund")
    return AccountRef(AccountKind.INVESTOR_FUNDS, OwnerType.USER, user_id, currency)


def bank_clearing(currency: str) -> AccountRef:
    return AccountRef(AccountKind.BANK_CLEARING, OwnerType.PLATFORM, 0, currency)


def withdrawals_pending(currency: str, *, user_id: int | None = None, fund_id: int | None = None) -> AccountRef:
    """The wallet's reserved part (a fund's when ``fund_id`` is given), as ``investor_funds``."""
    funds = investor_funds(currency, user_id=user_id, fund_id=fund_id)
    return AccountRef(AccountKind.WITHDRAWALS_PENDING, funds.owner_type, funds.owner_id, currency)


def owner_payable(owner_id: int, currency: str) -> AccountRef:
    return AccountRef(AccountKind.OWNER_PAYABLE, OwnerType.USER, owner_id, currency)


_accounts = LedgerAccount.__table__
_transactions = LedgerTransaction.__table__
#: Every account named by a list of (kind, owner_type, owner_id, currency): one row-value IN,
#: built once (an expanding parameter), so each call only binds values.
_ACCOUNTS = select(_accounts).where(
    tuple_(_accounts.c.kind, _accounts.c.owner_type, _accounts.c.owner_id, _accounts.c.currency)
    .in_(bindparam("refs", expanding=True)))
#: PostgreSQL: the same from four arrays (a row-value IN of thousands of accounts costs more
#: to send and plan than to run).
_ACCOUNTS_PG = text("""
SELECT a.id, a.kind, a.owner_type, a.owner_id, a.currency FROM ledger_accounts AS a
JOIN unnest(CAST(:kinds AS text[]), CAST(:types AS text[]), CAST(:owners AS integer[]), CAST(:currencies AS text[]))
    AS wanted(kind, owner_type, owner_id, currency)
    ON a.kind = wanted.kind AND a.owner_type = wanted.owner_type AND a.owner_id = wanted.owner_id
    AND a.currency = wanted.currency
""")


def accounts(refs: Iterable[AccountRef]) -> dict[AccountRef, LedgerAccount]:
    """The accounts ``refs`` name, creating any not used before."""
    return {ref: db.session.get(LedgerAccount, account_id) for ref, account_id in account_ids(refs).items()}


def account_ids(refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """The ids of the accounts ``refs`` name, in one query (plain rows, no ORM objects: ``post``
    is on the pledge hot path), creating any not used before (all of them in one more statement)."""
    wanted = list(dict.fromkeys(refs))
    found = _found(wanted)
    missing = [ref for ref in wanted if ref not in found]
    if missing:
        _create_missing(missing)
        found |= _found(missing)
    return found


def _found(refs: list[AccountRef]) -> dict[AccountRef, int]:
    values = [(ref.kind.value, ref.owner_type.value, ref.owner_id, ref.currency) for ref in refs]
    if bulk.postgresql():
        rows = db.session.execute(_ACCOUNTS_PG, {name: list(column) for name, column in zip(
            ("kinds", "types", "owners", "currencies"), zip(*values, strict=True), strict=True)})
    else:
        rows = db.session.execute(_ACCOUNTS, {"refs": values})
    return {AccountRef(AccountKind(row.kind), OwnerType(row.owner_type), row.owner_id, row.currency): row.id
            for row in rows}


def post_new(flows: Sequence[Flow], *, now: datetime) -> None:
    """Post a batch of flows whose keys cannot have been posted before (their pledges were
    moved under a row lock in this transaction): the transactions, then all their entries,
    in bulk writes (``COPY`` on PostgreSQL) instead of one ``post`` each. A key that was
    posted after all is an ``IntegrityError``, never a second posting."""
    if not flows:
        return
    for flow in flows:
        _checked(flow.entries, flow.idempotency_key)
    accounts_of = account_ids(ref for flow in flows for ref, _ in flow.entries)
    rows = [{"idempotency_key": f.idempotency_key, "description": f.description[:200], "created_at": now,
             "campaign_id": f.campaign_id, "pledge_id": f.pledge_id} for f in flows]
    if bulk.postgresql():
        ids = bulk.new_ids(_transactions, len(rows))
        bulk.insert_rows(_transactions, [{"id": i} | row for i, row in zip(ids, rows, strict=True)])
    else:
        ids = list(db.session.scalars(insert(_transactions).returning(_transactions.c.id, sort_by_parameter_order=True),
                                      rows))
    bulk.insert_rows(LedgerEntry.__table__, [
        {"transaction_id": transaction_id, "account_id": accounts_of[ref], "amount": amount, "currency": ref.currency}
        for transaction_id, flow in zip(ids, flows, strict=True) for ref, amount in flow.entries])


def account(ref: AccountRef) -> LedgerAccount:
    """The account ``ref`` names, created on first use (safe when two requests race to create it)."""
    return accounts([ref])[ref]


def _create_missing(refs: list[AccountRef]) -> None:
    """Insert the accounts, skipping any another transaction created first (on PostgreSQL the
    insert waits for that transaction's commit, then skips its row): one statement however many."""
    unsupported = sorted({ref.currency for ref in refs} - set(SUPPORTED_CURRENCIES))
    if unsupported:
        raise LedgerError(f"Unsupported currency {unsupported[0]!r}")
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(_accounts).on_conflict_do_nothing(), [
        {"kind": ref.kind.value, "owner_type": ref.owner_type.value, "owner_id": ref.owner_id,
         "currency": ref.currency} for ref in refs])


def post(description: str, entries: Iterable[tuple[AccountRef, int]], *, now: datetime, idempotency_key: str,
         campaign_id: int | None = None, pledge_id: int | None = None) -> LedgerTransaction:
    """Post one balanced transaction, or return the one already posted under ``idempotency_key``.

    :param entries: ``(account, signed amount)`` pairs, + debit and − credit, in one currency.
    :raises LedgerError: unbalanced, mixed currencies, a zero or non-integer amount, fewer than
        two entries, or the key reused for different entries.
    :raises IntegrityError: another transaction posted the same key at the same moment and
        committed first; the caller's retry then returns that one.
    """
    lines = _checked(entries, idempotency_key)
    values = {"idempotency_key": idempotency_key, "description": description[:200], "created_at": now,
              "campaign_id": campaign_id, "pledge_id": pledge_id}
    transaction_id = _claim_and_enter(values, lines)
    if transaction_id is None:
        # The key was posted before (or by a concurrent transaction that committed first).
        existing = db.session.scalar(
            select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key))
        return _same_or_raise(existing, lines)
    # The row as inserted, adopted without a SELECT; its entries load when first read.
    return adopt(LedgerTransaction(id=transaction_id, **values))


def _checked(entries: Iterable[tuple[AccountRef, int]], idempotency_key: str) -> list[tuple[AccountRef, int]]:
    """The entries as a list, or LedgerError if they break double entry."""
    lines = [(ref, amount) for ref, amount in entries]
    if len(lines) < 2:
        raise LedgerError("A transaction needs at least two entries")
    for _, amount in lines:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
            raise LedgerError(f"Entry amounts are non-zero integers in minor units, not {amount!r}")
    currencies = {ref.currency for ref, _ in lines}
    if len(currencies) != 1:
        raise LedgerError(f"A transaction is in one currency, not {sorted(currencies)}")
    total = sum(amount for _, amount in lines)
    if total != 0:
        raise LedgerError(f"Unbalanced transaction {idempotency_key!r}: entries sum to {total}")
    return lines


def post_guarded_pg(flow: Flow, *, guard: Any, also: tuple[Callable[[Any], Any], ...] = (),
                    params: dict[str, Any], now: datetime) -> bool:
    """PostgreSQL: post ``flow`` in the same statement as ``guard``, a data-modifying CTE (a
    state change with RETURNING), and only if it yields a row; ``also`` build further CTEs of
    that statement from the transaction's claiming CTE (so they can run only when it posts).
    Returns whether ``guard`` yielded a row.

    For one-round-trip writes (the pledge store's payment): the state change, the posting
    and what follows from it together. The same checks as ``post``; a key posted before
    while ``guard`` still changed something is a LedgerError, and the caller's transaction
    must roll back.
    """
    lines = _checked(flow.entries, flow.idempotency_key)
    statement = _posting_pg(len(lines), guard, also)
    row = db.session.execute(statement, _posting_params(_values(flow, now), lines) | params).first()
    if row is None:
        return False
    if row.transaction_id is None:
        raise LedgerError(f"Idempotency key {flow.idempotency_key!r} was already posted")
    return True


def _values(flow: Flow, now: datetime) -> dict[str, Any]:
    return {"idempotency_key": flow.idempotency_key, "description": flow.description[:200], "created_at": now,
            "campaign_id": flow.campaign_id, "pledge_id": flow.pledge_id}


def _posting_params(values: dict[str, Any], lines: list[tuple[AccountRef, int]]) -> dict[str, Any]:
    by_ref = account_ids(ref for ref, _ in lines)
    params = {f"tx_{key}": value for key, value in values.items()}
    for i, (ref, amount) in enumerate(lines):
        params |= {f"account_{i}": by_ref[ref], f"amount_{i}": amount, f"currency_{i}": ref.currency}
    return params


def _claim_and_enter(values: dict[str, Any], lines: list[tuple[AccountRef, int]]) -> int | None:
    """Insert the transaction unless its key exists (then None), and its entries in order.

    The key is claimed by the insert itself, so two posts of one key never both write:
    on PostgreSQL one statement does both (a data-modifying CTE), on SQLite two.
    """
    return _ENTER[db.session.get_bind().dialect.name](values, lines)


def _enter_pg(values: dict[str, Any], lines: list[tuple[AccountRef, int]]) -> int | None:
    return db.session.execute(_posting_pg(len(lines)), _posting_params(values, lines)).scalar()


def _enter_sqlite(values: dict[str, Any], lines: list[tuple[AccountRef, int]]) -> int | None:
    by_ref = account_ids(ref for ref, _ in lines)
    claimed = db.session.execute(_CLAIMING_INSERT_SQLITE, values).first()
    if claimed is None:
        return None
    db.session.execute(_INSERT_ENTRIES, [
        {"transaction_id": claimed.id, "account_id": by_ref[ref], "amount": amount, "currency": ref.currency}
        for ref, amount in lines])
    return claimed.id


_ENTER = {"postgresql": _enter_pg, "sqlite": _enter_sqlite}

_INSERT_ENTRIES = insert(LedgerEntry.__table__)
#: SQLite: ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id``.
_CLAIMING_INSERT_SQLITE = (sqlite.insert(LedgerTransaction.__table__)
                           .on_conflict_do_nothing(index_elements=["idempotency_key"])
                           .returning(LedgerTransaction.__table__.c.id))
#: PostgreSQL postings, built on first use and reused: by number of entries, guard and companions.
_POSTINGS_PG: dict[tuple, Any] = {}


def _posting_pg(count: int, guard: Any = None, also: tuple[Callable[[Any], Any], ...] = ()) -> Any:
    """PostgreSQL: the claiming insert and its ``count`` entries, in entry order, as one
    statement answering the transaction id (none if the key was posted before). With a
    ``guard`` CTE, the insert takes place only if it yields a row, ``also`` run alongside,
    and the answer is one row of ``guard``'s id and the transaction id, or none."""
    key = (count, guard, also)
    statement = _POSTINGS_PG.get(key)
    if statement is None:
        transactions, entries = LedgerTransaction.__table__, LedgerEntry.__table__
        columns = ("idempotency_key", "description", "created_at", "campaign_id", "pledge_id")
        values = select(*(bindparam(f"tx_{name}", type_=transactions.c[name].type) for name in columns))
        if guard is not None:
            values = values.select_from(guard)
        claimed = (postgresql.insert(transactions).from_select(list(columns), values)
                   .on_conflict_do_nothing(index_elements=["idempotency_key"])
                   .returning(transactions.c.id).cte("claimed"))
        lines = union_all(*(
            select(literal(i).label("ord"), bindparam(f"account_{i}", type_=Integer).label("account_id"),
                   bindparam(f"amount_{i}", type_=BigInteger).label("amount"),
                   bindparam(f"currency_{i}", type_=String).label("currency"))
            for i in range(count))).subquery("lines")
        entered = (insert(entries).from_select(
            ["transaction_id", "account_id", "amount", "currency"],
            select(claimed.c.id, lines.c.account_id, lines.c.amount, lines.c.currency)
            .select_from(claimed).join(lines, true()).order_by(lines.c.ord))
            .returning(entries.c.id).cte("entered"))
        if guard is None:
            statement = select(claimed.c.id).add_cte(entered)
        else:
            statement = (select(guard.c.id, claimed.c.id.label("transaction_id"))
                         .select_from(guard).outerjoin(claimed, true())
                         .add_cte(entered, *(build(claimed) for build in also)))
        _POSTINGS_PG[key] = statement
    return statement


def _same_or_raise(existing: LedgerTransaction, lines: list[tuple[AccountRef, int]]) -> LedgerTransaction:
    def shape(pairs):
        return sorted((r.kind.value, r.owner_type.value, r.owner_id, r.currency, a) for r, a in pairs)

    db.session.refresh(existing)
    posted = [(AccountRef(AccountKind(e.account.kind), OwnerType(e.account.owner_type), e.account.owner_id,
                          e.account.currency), e.amount) for e in existing.entries]
    if shape(posted) != shape(lines):
        raise LedgerError(f"Idempotency key {existing.idempotency_key!r} was already used for other entries")
    return existing


def balance(acct: LedgerAccount | AccountRef) -> int:
    """The account's balance in its normal direction (minor units); 0 for an account never used."""
    if isinstance(acct, AccountRef):
        ref = acct
        acct_id = db.session.scalar(select(LedgerAccount.id).where(
            LedgerAccount.kind == ref.kind.value, LedgerAccount.owner_type == ref.owner_type.value,
            LedgerAccount.owner_id == ref.owner_id, LedgerAccount.currency == ref.currency))
        kind = ref.kind
        if acct_id is None:
            return 0
    else:
        acct_id, kind = acct.id, AccountKind(acct.kind)
    raw = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                            .where(LedgerEntry.account_id == acct_id))
    return int(raw) * NORMAL_SIGN[kind]


def locked_balance(ref: AccountRef) -> int:
    """The account's balance with its row locked until the transaction ends, so two spenders of
    one wallet (a wallet pledge, a withdrawal) take turns and never spend the same money."""
    account_id = account_ids([ref])[ref]
    db.session.execute(select(_accounts.c.id).where(_accounts.c.id == account_id).with_for_update())
    return balance(ref)


def escrow_accounts(campaign_id: int) -> list[LedgerAccount]:
    return list(db.session.scalars(select(LedgerAccount).where(
        LedgerAccount.kind == AccountKind.CAMPAIGN_ESCROW.value,
        LedgerAccount.owner_type == OwnerType.CAMPAIGN.value,
        LedgerAccount.owner_id == campaign_id,
    )))


def escrow_balance(campaign_id: int) -> int:
    """What the campaign's escrow holds: paid pledges − refunds − amounts settled (minor units)."""
    return sum(balance(acct) for acct in escrow_accounts(campaign_id))


def entries_for(acct: LedgerAccount) -> list[LedgerEntry]:
    """The account's entries, oldest first, with their transactions."""
    return list(db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.account_id == acct.id).order_by(LedgerEntry.id)))


def transactions_for_campaign(campaign_id: int) -> list[LedgerTransaction]:
    return list(db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.campaign_id == campaign_id)
                                   .order_by(LedgerTransaction.id)))


# --- the flows the pledge service and the jobs post -------------------------------------------


def post_flow(flow: Flow, *, now: datetime) -> LedgerTransaction:
    return post(flow.description, flow.entries, now=now, idempotency_key=flow.idempotency_key,
                campaign_id=flow.campaign_id, pledge_id=flow.pledge_id)


def pledge_paid(pledge) -> Flow:
    """The money arrives (card or bank) and is committed to the campaign's escrow; from the
    wallet it is only committed."""
    funds = investor_funds(pledge.currency, user_id=pledge.investor_id, fund_id=pledge.fund_id)
    escrow = campaign_escrow(pledge.campaign_id, pledge.currency)
    a = pledge.amount
    if pledge.payment_method == methods.WALLET:
        entries: tuple[tuple[AccountRef, int], ...] = ((funds, a), (escrow, -a))
    else:
        source = (bank_clearing if pledge.payment_method == methods.BANK_TRANSFER else gateway_clearing)
        entries = ((source(pledge.currency), a), (funds, -a), (funds, a), (escrow, -a))
    return Flow(f"Pledge {pledge.id} paid", entries, f"pledge-{pledge.id}-paid", pledge.campaign_id, pledge.id)


def pledge_refunded(pledge) -> Flow:
    """The pledge leaves escrow: back to the card, or into the wallet (wallet and bank transfer)."""
    funds = investor_funds(pledge.currency, user_id=pledge.investor_id, fund_id=pledge.fund_id)
    escrow = campaign_escrow(pledge.campaign_id, pledge.currency)
    a = pledge.amount
    entries: tuple[tuple[AccountRef, int], ...] = ((escrow, a), (funds, -a))
    if not methods.refunds_to_wallet(pledge.payment_method):
        entries += ((funds, a), (gateway_clearing(pledge.currency), -a))
    return Flow(f"Pledge {pledge.id} refunded", entries, f"pledge-{pledge.id}-refunded", pledge.campaign_id,
                pledge.id)


def withdrawal_requested(withdrawal_id: int, amount: int, currency: str, *, user_id: int | None,
                         fund_id: int | None) -> Flow:
    """The amount leaves the wallet's available balance for its reserved part."""
    return Flow(f"Withdrawal {withdrawal_id} requested",
                ((investor_funds(currency, user_id=user_id, fund_id=fund_id), amount),
                 (withdrawals_pending(currency, user_id=user_id, fund_id=fund_id), -amount)),
                f"withdrawal-{withdrawal_id}-requested")


def withdrawal_paid(withdrawal_id: int, amount: int, currency: str, *, user_id: int | None,
                    fund_id: int | None) -> Flow:
    """The bank statement shows the transfer out: the money leaves the platform's bank account."""
    return Flow(f"Withdrawal {withdrawal_id} paid",
                ((withdrawals_pending(currency, user_id=user_id, fund_id=fund_id), amount),
                 (bank_clearing(currency), -amount)),
                f"withdrawal-{withdrawal_id}-paid")


def withdrawal_returned(withdrawal_id: int, amount: int, currency: str, *, user_id: int | None,
                        fund_id: int | None) -> Flow:
    """The receiving bank sent the transfer back: the amount is available in the wallet again."""
    return Flow(f"Withdrawal {withdrawal_id} returned",
                ((withdrawals_pending(currency, user_id=user_id, fund_id=fund_id), amount),
                 (investor_funds(currency, user_id=user_id, fund_id=fund_id), -amount)),
                f"withdrawal-{withdrawal_id}-returned")


def post_pledge_paid(pledge, *, now: datetime) -> LedgerTransaction:
    return post_flow(pledge_paid(pledge), now=now)


def post_pledge_refunded(pledge, *, now: datetime) -> LedgerTransaction:
    return post_flow(pledge_refunded(pledge), now=now)


def post_settlement(*, campaign_id: int, owner_id: int, currency: str, gross: int, fee: int,
                    now: datetime) -> LedgerTransaction:
    """A successful round leaves escrow: the fee to the platform, the rest owed to the owner.

    ``gross`` is the sum of the pledges settled (normally the whole escrow balance);
    ``fee`` is computed by the caller (``gross * PLATFORM_FEE_BPS // 10_000``). One per campaign.
    """
    if not 0 <= fee <= gross or gross <= 0:
        raise LedgerError(f"Settlement needs 0 <= fee <= gross and gross > 0 (gross={gross}, fee={fee})")
    entries = [(campaign_escrow(campaign_id, currency), gross)]
    if fee:
        entries.append((platform_fees(currency), -fee))
    if gross - fee:
        entries.append((owner_payable(owner_id, currency), -(gross - fee)))
    return post(f"Campaign {campaign_id} settled", entries, now=now,
                idempotency_key=f"campaign-{campaign_id}-settlement", campaign_id=campaign_id)


def post_payout_sent(*, campaign_id: int, owner_id: int, currency: str, amount: int, now: datetime,
                     idempotency_key: str | None = None) -> LedgerTransaction:
    """The owner's proceeds leave through the gateway (or a recorded bank transfer)."""
    return post(f"Campaign {campaign_id} paid out to owner {owner_id}",
                [(owner_payable(owner_id, currency), amount), (gateway_clearing(currency), -amount)],
                now=now, idempotency_key=idempotency_key or f"campaign-{campaign_id}-payout",
                campaign_id=campaign_id)
