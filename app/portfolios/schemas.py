"""The portfolio's JSON shape (``GET /api/v1/portfolio``). Amounts in minor units."""

from typing import Any

from marshmallow import Schema, fields

from app.portfolios.labels import key_label
from app.portfolios.services import CurrencySummary, Holding, Portfolio, status_label


class OwnerSchema(Schema):
    type = fields.String(metadata={"description": "investor or fund"})
    id = fields.Integer()
    name = fields.String()


class NextInstalmentSchema(Schema):
    due_at = fields.DateTime()
    amount = fields.Integer(metadata={"description": "this holding's share, minor units"})


class ImpactSchema(Schema):
    co2_tonnes_per_year = fields.Float()
    energy_mwh_per_year = fields.Float()


class HoldingSchema(Schema):
    pledge_id = fields.Integer()
    campaign_id = fields.Integer()
    campaign_title = fields.String()
    category = fields.String()
    country = fields.String()
    risk_class = fields.String(allow_none=True)
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "invested, minor units"})
    pledge_status = fields.String()
    status = fields.String(metadata={"description": "funding, awaiting_payout, refund_pending, repaying, "
                                                    "in_arrears, defaulted or completed"})
    status_label = fields.String()
    paid_at = fields.DateTime()
    interest_rate_bps = fields.Integer(allow_none=True)
    term_months = fields.Integer(allow_none=True)
    repayment = fields.String(allow_none=True)
    received = fields.Integer()
    received_principal = fields.Integer()
    received_interest = fields.Integer()
    outstanding_principal = fields.Integer()
    expected_interest = fields.Integer()
    arrears = fields.Integer(metadata={"description": "this holding's share of overdue instalments"})
    next_instalment = fields.Nested(NextInstalmentSchema, allow_none=True)
    impact = fields.Nested(ImpactSchema, metadata={"description": "attributable: projection × share of the round"})


class SliceSchema(Schema):
    key = fields.String()
    label = fields.String()
    amount = fields.Integer()
    share_bps = fields.Integer(metadata={"description": "of the amount invested in this currency"})
    holdings = fields.Integer()


class AllocationSchema(Schema):
    by_sdg = fields.List(fields.Nested(SliceSchema), metadata={
        "description": "a campaign counts in full toward each of its goals; shares may exceed 10000 in sum"})
    by_category = fields.List(fields.Nested(SliceSchema))
    by_country = fields.List(fields.Nested(SliceSchema))
    by_risk_class = fields.List(fields.Nested(SliceSchema))


class CashFlowSchema(Schema):
    date = fields.Date()
    kind = fields.String(metadata={"description": "investment (negative), receipt or expected"})
    principal = fields.Integer()
    interest = fields.Integer()
    amount = fields.Integer()


class CountSchema(Schema):
    holdings = fields.Integer()
    amount = fields.Integer()


class DefaultsSchema(Schema):
    holdings = fields.Integer()
    outstanding_principal = fields.Integer()


class CurrencySummarySchema(Schema):
    """Every money figure of the portfolio in one currency (currencies are never added up)."""

    currency = fields.String()
    holdings_count = fields.Integer()
    invested = fields.Integer()
    outstanding_principal = fields.Integer()
    received = fields.Integer()
    received_principal = fields.Integer()
    received_interest = fields.Integer()
    expected = fields.Integer(metadata={"description": "unpaid instalments of loans not in default"})
    expected_principal = fields.Integer()
    expected_interest = fields.Integer()
    xirr = fields.Float(allow_none=True, metadata={"description": "annual rate (0.0665 = 6.65 %), or null"})
    xirr_reason = fields.String(allow_none=True, metadata={"description": "why the XIRR is not available"})
    xirr_reason_code = fields.String(allow_none=True, metadata={
        "description": "no_flows, one_flow, defaulted, no_returns, no_investment or no_solution"})
    arrears = fields.Nested(CountSchema)
    defaults = fields.Nested(DefaultsSchema)
    allocation = fields.Nested(AllocationSchema)
    impact = fields.Nested(ImpactSchema)
    cash_flows = fields.List(fields.Nested(CashFlowSchema), metadata={"description": "one line per day and kind"})


class PortfolioSchema(CurrencySummarySchema):
    """The figures of ``currency`` (the profile's or fund's, or ``?currency=``), every holding,
    the impact of every holding, and the figures of each currency held in ``by_currency``."""

    owner = fields.Nested(OwnerSchema)
    as_of = fields.DateTime()
    currencies = fields.List(fields.String())
    holdings = fields.List(fields.Nested(HoldingSchema))
    by_currency = fields.Dict(keys=fields.String(), values=fields.Nested(CurrencySummarySchema))


def _slices(summary: CurrencySummary) -> dict[str, list[dict]]:
    return {dimension: [{"key": s.key, "label": key_label(dimension, s.key), "amount": s.amount,
                         "share_bps": s.share_bps, "holdings": s.holdings} for s in slices]
            for dimension, slices in summary.allocation.items()} or {
        "by_sdg": [], "by_category": [], "by_country": [], "by_risk_class": []}


def _summary(s: CurrencySummary) -> dict[str, Any]:
    return {
        "currency": s.currency, "holdings_count": s.holdings, "invested": s.invested,
        "outstanding_principal": s.outstanding_principal, "received": s.received,
        "received_principal": s.received_principal, "received_interest": s.received_interest,
        "expected": s.expected, "expected_principal": s.expected_principal, "expected_interest": s.expected_interest,
        "xirr": s.xirr.value, "xirr_reason": None if s.xirr.reason is None else str(s.xirr.reason),
        "xirr_reason_code": s.xirr.reason_code,
        "arrears": {"holdings": s.arrears_holdings, "amount": s.arrears_amount},
        "defaults": {"holdings": s.default_holdings, "outstanding_principal": s.default_outstanding_principal},
        "allocation": _slices(s),
        "impact": {"co2_tonnes_per_year": s.impact.co2_tonnes_per_year,
                   "energy_mwh_per_year": s.impact.energy_mwh_per_year},
        "cash_flows": [{"date": f.day, "kind": f.kind, "principal": f.principal, "interest": f.interest,
                        "amount": f.amount} for f in s.cash_flows],
    }


def _holding(h: Holding) -> dict[str, Any]:
    return {
        "pledge_id": h.pledge_id, "campaign_id": h.campaign_id, "campaign_title": h.campaign_title,
        "category": h.category, "country": h.country, "risk_class": h.risk_class, "currency": h.currency,
        "amount": h.amount, "pledge_status": h.pledge_status, "status": h.status,
        "status_label": status_label(h.status),
        "paid_at": h.paid_at, "interest_rate_bps": h.interest_rate_bps, "term_months": h.term_months,
        "repayment": h.repayment, "received": h.received, "received_principal": h.received_principal,
        "received_interest": h.received_interest, "outstanding_principal": h.outstanding_principal,
        "expected_interest": h.expected_interest, "arrears": h.arrears,
        "next_instalment": {"due_at": h.next_due_at, "amount": h.next_amount} if h.next_due_at else None,
        "impact": {"co2_tonnes_per_year": h.co2_tonnes_per_year, "energy_mwh_per_year": h.energy_mwh_per_year},
    }


def dump_portfolio(portfolio: Portfolio, currency: str | None = None) -> dict[str, Any]:
    """The API's portfolio: ``currency``'s figures at the top, every currency in ``by_currency``."""
    top = _summary(portfolio.summary(currency))
    top.update(
        owner={"type": portfolio.owner.kind, "id": portfolio.owner.id, "name": portfolio.owner.name},
        as_of=portfolio.as_of,
        currencies=portfolio.currencies,
        holdings=[_holding(h) for h in portfolio.holdings],
        by_currency={c: _summary(s) for c, s in portfolio.by_currency.items()},
        impact={"co2_tonnes_per_year": portfolio.impact.co2_tonnes_per_year,
                "energy_mwh_per_year": portfolio.impact.energy_mwh_per_year},
    )
    return PortfolioSchema().dump(top)
