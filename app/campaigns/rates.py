"""Exchange rates for the offer cap: recorded with their source, looked up by day, and
imported from the files central banks publish (the ECB's euro reference rates, the Bank of
Russia's official rates). Rates are exact decimals scaled to integers, never floats."""

import math
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from lxml import etree
from sqlalchemy import and_, or_, select

from app.campaigns.models import ExchangeRate
from app.core.errors import StateConflict, ValidationFailed
from app.core.money import SUPPORTED_CURRENCIES, minor_digits
from app.extensions import db

SCALE = 1_000_000
#: Central banks publish on working days only: a Monday approval uses Friday's rate, and a
#: rate older than this (a gap in the imports) is refused rather than silently used.
MAX_AGE = timedelta(days=4)
ECB_SOURCE = "ECB euro foreign exchange reference rate"
CBR_SOURCE = "Bank of Russia official exchange rate"


def record(base: str, quote: str, on: date, rate: Decimal | str, source: str, *, now: datetime) -> ExchangeRate:
    """Store one rate, idempotently: the same rate again is a no-op; a different rate for a
    day already recorded is refused, because approved offers were counted with it."""
    base, quote, source = base.upper(), quote.upper(), (source or "").strip()
    errors: dict[str, list[str]] = {}
    for name, code in (("base", base), ("quote", quote)):
        if code not in SUPPORTED_CURRENCIES:
            errors[name] = [f"Not a supported currency: {', '.join(SUPPORTED_CURRENCIES)}."]
    if base == quote:
        errors["quote"] = ["A rate needs two different currencies."]
    try:
        exact = Decimal(str(rate))
        micro = int((exact * SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))
        if not exact.is_finite() or micro <= 0 or micro > 10**15:
            raise InvalidOperation
    except (ArithmeticError, ValueError):  # InvalidOperation, Overflow, infinity
        errors["rate"] = ["A positive decimal such as 98.1234 (units of the quote currency per one base unit)."]
    if not 3 <= len(source) <= 200:
        errors["source"] = ["Say where the rate comes from (3 to 200 characters), e.g. the central bank."]
    if errors:
        raise ValidationFailed("The exchange rate is invalid.", errors)
    existing = db.session.scalar(select(ExchangeRate).where(
        ExchangeRate.base == base, ExchangeRate.quote == quote, ExchangeRate.on == on))
    if existing is not None:
        if existing.rate_micro != micro:
            raise StateConflict(
                f"A different {quote} per {base} rate is already recorded for {on.isoformat()}.",
                {"rate": [f"Recorded: {Decimal(existing.rate_micro) / SCALE} ({existing.source}); "
                          "recorded rates never change, because offers were counted with them."]})
        return existing
    row = ExchangeRate(base=base, quote=quote, on=on, rate_micro=micro, source=source, recorded_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def rate_on(currency: str, into: str, day: date) -> ExchangeRate | None:
    """The rate published for ``day`` (or the last working day before it) between the two
    currencies, in either direction; None when there is none recent enough."""
    pair = or_(and_(ExchangeRate.base == into, ExchangeRate.quote == currency),
               and_(ExchangeRate.base == currency, ExchangeRate.quote == into))
    return db.session.scalar(
        select(ExchangeRate).where(pair, ExchangeRate.on <= day, ExchangeRate.on >= day - MAX_AGE)
        .order_by(ExchangeRate.on.desc(), ExchangeRate.id).limit(1))


def convert_up(amount: int, currency: str, into: str, rate: ExchangeRate) -> int:
    """``amount`` minor units of ``currency`` in minor units of ``into``, rounded up (a cap
    is never passed by rounding)."""
    shift = minor_digits(into) - minor_digits(currency)
    if rate.base == into and rate.quote == currency:
        numerator, denominator = amount * SCALE, rate.rate_micro
    elif rate.base == currency and rate.quote == into:
        numerator, denominator = amount * rate.rate_micro, SCALE
    else:
        raise ValueError(f"{rate.base}/{rate.quote} does not convert {currency} into {into}")
    if shift >= 0:
        numerator *= 10**shift
    else:
        denominator *= 10**-shift
    return math.ceil(numerator / denominator) if numerator % denominator else numerator // denominator


def describe(rate: ExchangeRate) -> dict:
    """The rate as disclosed in audit details and the API."""
    return {"base": rate.base, "quote": rate.quote, "on": rate.on.isoformat(),
            "rate": str(Decimal(rate.rate_micro) / SCALE), "source": rate.source}


def parse_file(data: bytes) -> list[tuple[str, str, date, Decimal, str]]:
    """(base, quote, day, rate, source) rows from an ECB ``eurofxref`` XML file or a Bank of
    Russia ``XML_daily`` file; a file in neither shape is refused with what was expected."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValidationFailed("The rates file is not readable XML.", {"file": [str(exc)[:200]]}) from exc
    rows: list[tuple[str, str, date, Decimal, str]] = []
    try:
        tag = etree.QName(root).localname
        if tag == "ValCurs":  # Bank of Russia: RUB per <Nominal> units of each currency
            day = datetime.strptime(root.attrib["Date"], "%d.%m.%Y").date()
            for valute in root.iter("Valute"):
                code = (valute.findtext("CharCode") or "").strip().upper()
                if code in SUPPORTED_CURRENCIES and code != "RUB":
                    value = Decimal((valute.findtext("Value") or "").replace(",", "."))
                    nominal = Decimal(valute.findtext("Nominal") or "1")
                    rows.append((code, "RUB", day, value / nominal, CBR_SOURCE))
        elif tag == "Envelope":  # ECB: units of each currency per EUR, by day
            for cube in root.iter():
                if isinstance(cube.tag, str) and etree.QName(cube).localname == "Cube" and "time" in cube.attrib:
                    day = date.fromisoformat(cube.attrib["time"])
                    for line in cube:
                        code = line.attrib.get("currency", "").upper()
                        if code in SUPPORTED_CURRENCIES and code != "EUR":
                            rows.append(("EUR", code, day, Decimal(line.attrib["rate"]), ECB_SOURCE))
        else:
            raise ValueError(f"unknown root element {tag!r}")
    except (KeyError, ValueError, ArithmeticError) as exc:  # a zero Nominal divides by zero
        raise ValidationFailed("The rates file is neither an ECB eurofxref file nor a Bank of Russia XML_daily file.",
                               {"file": [str(exc)[:200]]}) from exc
    if not rows:
        raise ValidationFailed("The rates file holds no rate for a supported currency.",
                               {"file": [f"Supported: {', '.join(SUPPORTED_CURRENCIES)}."]})
    return rows


def import_file(data: bytes, *, now: datetime) -> list[ExchangeRate]:
    """Record every supported rate of a central bank's file; safe to import twice."""
    return [record(base, quote, day, rate, source, now=now) for base, quote, day, rate, source in parse_file(data)]
