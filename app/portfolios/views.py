"""Portfolio pages: a citizen's and a fund's, their charts, and CSV/XLSX downloads."""

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from app.core.clock import now
from app.core.errors import NotFound
from app.core.permissions import Permission, can, current_actor, requires
from app.portfolios import charts, exports, services
from app.portfolios.labels import DIMENSION_LABELS, key_label
from app.portfolios.services import Portfolio, PortfolioOwner

bp = Blueprint("portfolios", __name__)

#: Holdings per page of the table (the figures and charts always cover all of them).
PER_PAGE = 50
TABLES = ("holdings", "cashflows")
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _url(owner: PortfolioOwner, **kwargs: Any) -> str:
    if owner.kind == "fund":
        return url_for("portfolios.fund", fund_id=owner.id, **kwargs)
    return url_for("portfolios.investor", user_id=owner.id, **kwargs)


def _download_url(owner: PortfolioOwner, table: str, fmt: str) -> str:
    if owner.kind == "fund":
        return url_for("portfolios.fund_download", fund_id=owner.id, table=table, fmt=fmt)
    return url_for("portfolios.investor_download", user_id=owner.id, table=table, fmt=fmt)


@bp.get("/")
@requires(Permission.VIEW_PORTFOLIO)
def index():
    """The signed-in user's portfolio: their fund's for a fund manager."""
    return redirect(_url(services.own_owner(current_actor())))


@bp.get("/investors/<int:user_id>")
@requires(Permission.VIEW_PORTFOLIO)
def investor(user_id: int):
    return _page(services.owner_for_viewer(current_actor(), "investor", user_id))


@bp.get("/funds/<int:fund_id>")
@requires(Permission.VIEW_PORTFOLIO)
def fund(fund_id: int):
    return _page(services.owner_for_viewer(current_actor(), "fund", fund_id))


@bp.get("/investors/<int:user_id>/<table>.<fmt>")
@requires(Permission.VIEW_PORTFOLIO)
def investor_download(user_id: int, table: str, fmt: str):
    return _download(services.owner_for_viewer(current_actor(), "investor", user_id), table, fmt)


@bp.get("/funds/<int:fund_id>/<table>.<fmt>")
@requires(Permission.VIEW_PORTFOLIO)
def fund_download(fund_id: int, table: str, fmt: str):
    return _download(services.owner_for_viewer(current_actor(), "fund", fund_id), table, fmt)


def _page(owner: PortfolioOwner):
    portfolio = services.portfolio(owner, now=now())
    currency = request.args.get("currency")
    if currency not in portfolio.by_currency:
        currency = portfolio.currency
    summary = portfolio.summary(currency)
    months = services.monthly(summary)
    table = portfolio.table
    ordered, sort, direction = services.holding_order(table, table.rows_in(summary.currency),
                                                      request.args.get("sort"), request.args.get("dir"))
    pages = max(1, -(-len(ordered) // PER_PAGE))
    page = request.args.get("page", "1")
    page = min(max(int(page), 1), pages) if page.isdigit() else 1
    shown = [table.holding(i) for i in ordered[(page - 1) * PER_PAGE: page * PER_PAGE]]

    def sort_url(key: str) -> str:
        flip = "desc" if key == sort and direction == "asc" else "asc"
        return _url(owner, currency=summary.currency, sort=key, dir=flip)

    def page_url(number: int) -> str:
        return _url(owner, currency=summary.currency, sort=sort, dir=direction, page=number)

    return render_template(
        "portfolios/show.html", portfolio=portfolio, owner=owner, wallet=_wallet(owner), summary=summary,
        months=months, holdings=shown,
        holdings_total=len(ordered), page=page, pages=pages, sort=sort, direction=direction, sort_url=sort_url,
        page_url=page_url, currency_url=lambda c: _url(owner, currency=c),
        download_url=lambda table, fmt: _download_url(owner, table, fmt),
        charts={
            "cash_flows": charts.cash_flows(months, summary.currency),
            **{dimension: charts.allocation(summary, dimension) for dimension in DIMENSION_LABELS},
            "impact": charts.impact(portfolio.impact),
        },
        dimension_labels=DIMENSION_LABELS, key_label=key_label, status_label=services.status_label,
    )


def _wallet(owner: PortfolioOwner) -> list[dict] | None:
    """The wallet's balances for the card on one's own portfolio (None on anyone else's)."""
    from app.wallets import services as wallets

    actor = current_actor()
    try:
        own = can(actor, Permission.INVEST) and services.own_owner(actor) == owner
    except NotFound:  # a fund manager whose fund is gone
        own = False
    return wallets.balances(actor) if own else None


def _download(owner: PortfolioOwner, table: str, fmt: str) -> Response:
    if table not in TABLES or fmt not in FORMATS:
        abort(404)
    portfolio = services.portfolio(owner, now=now())
    return download(portfolio, "cash_flows" if table == "cashflows" else "holdings", fmt)


def download(portfolio: Portfolio, table: str, fmt: str, *, sheets: tuple[str, ...] | None = None) -> Response:
    """One table of the portfolio as a CSV or XLSX attachment (an XLSX may hold several ``sheets``)."""
    name = exports.filename(portfolio, "portfolio" if sheets else table.replace("_", "-"), fmt)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "xlsx":
        body = exports.xlsx(portfolio, tables=sheets or (table,))
        return Response(body, mimetype=FORMATS["xlsx"], headers=headers)
    if table == "cash_flows":
        chunks = exports.csv_chunks(exports.CASH_FLOW_COLUMNS, exports.cash_flow_rows(portfolio))
    else:
        chunks = exports.csv_chunks(exports.HOLDING_COLUMNS, exports.holding_rows(portfolio.holdings))
    # Written out before the response starts: a generator that outlived the request
    # would need its own app context and database session.
    return Response("".join(chunks), content_type=FORMATS["csv"], headers=headers)
