"""The caller's portfolio (a fund manager's is the fund's), as JSON, CSV or XLSX."""

from flask import g, request

from app.api import bp
from app.api.openapi import CSV, JSON, XLSX, document, format_of
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.money import SUPPORTED_CURRENCIES
from app.core.permissions import Permission, requires
from app.portfolios import services
from app.portfolios.schemas import PortfolioSchema, dump_portfolio
from app.portfolios.views import download

document("/portfolio", "get",
         "The caller's portfolio (investor; a fund manager gets the fund's): holdings, invested, outstanding "
         "principal, received, expected, XIRR, arrears, defaults, allocation and attributable impact. "
         "Top-level money figures are in `currency` (the profile's or fund's, or `?currency=`); every currency "
         "held is in `by_currency` (no exchange rates: currencies are never added up). "
         "`?format=csv` downloads the holdings (`&table=cash_flows` the cash flows one by one); "
         "`?format=xlsx` a workbook with Summary, Holdings and Cash flows sheets",
         response=PortfolioSchema, media=(JSON, CSV, XLSX),
         query={"format": format_of("json", "csv", "xlsx"), "table": format_of("holdings", "cash_flows"),
                "currency": {"type": "string", "enum": list(SUPPORTED_CURRENCIES)}})

FORMATS = ("json", "csv", "xlsx")
CSV_TABLES = ("holdings", "cash_flows")


@bp.get("/portfolio")
@requires(Permission.VIEW_PORTFOLIO)
def get_portfolio():
    fmt = request.args.get("format", "json")
    table = request.args.get("table", "holdings")
    currency = request.args.get("currency")
    errors = {}
    if fmt not in FORMATS:
        errors["format"] = [f"Must be one of: {', '.join(FORMATS)}."]
    if table not in CSV_TABLES:
        errors["table"] = [f"Must be one of: {', '.join(CSV_TABLES)}."]
    if currency is not None and currency not in SUPPORTED_CURRENCIES:
        errors["currency"] = [f"Must be one of: {', '.join(SUPPORTED_CURRENCIES)}."]
    if errors:
        raise ValidationFailed("The portfolio parameters are invalid.", errors)
    portfolio = services.portfolio(services.own_owner(g.api_user), now=now())
    if fmt == "csv":
        return download(portfolio, table, "csv")
    if fmt == "xlsx":
        return download(portfolio, "holdings", "xlsx", sheets=("summary", "holdings", "cash_flows"))
    return dump_portfolio(portfolio, currency)
