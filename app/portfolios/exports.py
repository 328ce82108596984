"""CSV and XLSX downloads of a portfolio's holdings and cash flows.

Column names are stable English identifiers (scripts read these files as well as
people). Amounts are in major units (euros, roubles) with a ``currency`` column, because
these files are opened in spreadsheets; the JSON API keeps minor units. Text that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is written inert.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from app.core.money import minor_digits
from app.core.spreadsheets import inert
from app.portfolios import queries
from app.portfolios.labels import category_label, country_label
from app.portfolios.services import Holding, Portfolio, status_label

MONEY = object()  # a column marker: minor units to be shown in major units
HOLDING_COLUMNS = [
    ("pledge_id", None), ("campaign_id", None), ("campaign", None), ("category", None), ("country", None),
    ("risk_class", None), ("currency", None), ("invested", MONEY), ("status", None), ("paid_on", None),
    ("interest_rate_percent", None), ("term_months", None), ("repayment", None),
    ("received_principal", MONEY), ("received_interest", MONEY), ("outstanding_principal", MONEY),
    ("expected_interest", MONEY), ("arrears", MONEY), ("next_instalment_due", None),
    ("next_instalment_amount", MONEY), ("co2_tonnes_per_year", None), ("energy_mwh_per_year", None),
]
CASH_FLOW_COLUMNS = [
    ("date", None), ("currency", None), ("kind", None), ("campaign_id", None), ("campaign", None),
    ("pledge_id", None), ("instalment", None), ("principal", MONEY), ("interest", MONEY), ("amount", MONEY),
]


def major(amount: int, currency: str) -> Decimal:
    """Minor units as an exact decimal in major units (12345 EUR → 123.45)."""
    return Decimal(amount).scaleb(-minor_digits(currency))


def holding_rows(holdings: Iterable[Holding]) -> Iterator[list[Any]]:
    """One row per holding, in HOLDING_COLUMNS order; amounts still in minor units."""
    for h in holdings:
        yield [
            h.pledge_id, h.campaign_id, h.campaign_title, category_label(h.category), country_label(h.country),
            h.risk_class or "", h.currency, h.amount, status_label(h.status), h.paid_at.date(),
            Decimal(h.interest_rate_bps).scaleb(-2) if h.interest_rate_bps is not None else "",
            h.term_months if h.term_months is not None else "", h.repayment or "",
            h.received_principal, h.received_interest, h.outstanding_principal, h.expected_interest, h.arrears,
            h.next_due_at.date() if h.next_due_at else "", h.next_amount if h.next_due_at else "",
            round(h.co2_tonnes_per_year, 3), round(h.energy_mwh_per_year, 3),
        ]


def cash_flow_rows(portfolio: Portfolio) -> Iterator[list[Any]]:
    """Every cash flow one by one (investments negative), in CASH_FLOW_COLUMNS order."""
    for at, currency, kind, campaign_id, title, pledge_id, number, principal, interest in \
            queries.cash_flow_detail(portfolio.owner):
        yield [at.date() if isinstance(at, datetime) else at, currency, kind, campaign_id, title, pledge_id,
               number if number is not None else "", principal, interest, principal + interest]


def _currency_of(columns: list[tuple[str, Any]], row: list[Any]) -> str:
    return row[[name for name, _ in columns].index("currency")]


def _major_row(columns: list[tuple[str, Any]], row: list[Any]) -> list[Any]:
    currency = _currency_of(columns, row)
    return [major(v, currency) if kind is MONEY and isinstance(v, int) else v
            for (_, kind), v in zip(columns, row, strict=True)]


def csv_chunks(columns: list[tuple[str, Any]], rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text: the header, then a chunk per hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns])
    for n, row in enumerate(rows, start=1):
        values = _major_row(columns, row)
        writer.writerow([inert(v.isoformat() if isinstance(v, date) else v) for v in values])
        if n % 100 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _sheet(workbook: Workbook, title: str, columns: list[tuple[str, Any]], rows: Iterable[list[Any]]) -> None:
    sheet = workbook.create_sheet(title)
    header = []
    for name, _ in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for (_, kind), value in zip(columns, _major_row(columns, row), strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif kind is MONEY:
                cell.number_format = "#,##0.00"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)


def summary_rows(portfolio: Portfolio) -> list[list[Any]]:
    rows = []
    for currency in portfolio.currencies:
        s = portfolio.by_currency[currency]
        rows.append([currency, s.holdings, s.invested, s.outstanding_principal, s.received_principal,
                     s.received_interest, s.expected_principal, s.expected_interest, s.arrears_amount,
                     s.default_outstanding_principal,
                     round(s.xirr.value, 6) if s.xirr.available else str(s.xirr.reason)])
    return rows


SUMMARY_COLUMNS = [
    ("currency", None), ("holdings", None), ("invested", MONEY), ("outstanding_principal", MONEY),
    ("received_principal", MONEY), ("received_interest", MONEY), ("expected_principal", MONEY),
    ("expected_interest", MONEY), ("arrears", MONEY), ("in_default_outstanding_principal", MONEY), ("xirr", None),
]


def xlsx(portfolio: Portfolio, holdings: Iterable[Holding] | None = None, *, tables: tuple[str, ...]) -> bytes:
    """A workbook with the named sheets: "summary", "holdings", "cash_flows"."""
    workbook = Workbook(write_only=True)
    if "summary" in tables:
        _sheet(workbook, "Summary", SUMMARY_COLUMNS, summary_rows(portfolio))
    if "holdings" in tables:
        _sheet(workbook, "Holdings", HOLDING_COLUMNS, holding_rows(holdings or portfolio.holdings))
    if "cash_flows" in tables:
        _sheet(workbook, "Cash flows", CASH_FLOW_COLUMNS, cash_flow_rows(portfolio))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def filename(portfolio: Portfolio, table: str, extension: str) -> str:
    return f"greenround-{portfolio.owner.kind}-{portfolio.owner.id}-{table}-{portfolio.as_of:%Y-%m-%d}.{extension}"
