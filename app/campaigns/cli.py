"""``flask rates …``: the exchange rates the offer cap is counted with."""

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from app.campaigns import rates
from app.core.clock import now
from app.core.errors import DomainError
from app.extensions import db

rates_cli = AppGroup("rates", help="Exchange rates for counting the offer cap in the jurisdiction's currency.")


def _fail(exc: DomainError) -> click.ClickException:
    db.session.rollback()
    messages = "; ".join(m for msgs in exc.errors.values() for m in msgs)
    return click.ClickException(f"{exc.detail} {messages}".strip())


@rates_cli.command("set")
@click.argument("base")
@click.argument("quote")
@click.argument("rate")
@click.option("--on", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day the rate is for (default: today, UTC).")
@click.option("--source", required=True, help="Where the rate comes from, e.g. 'ECB euro reference rate'.")
def set_command(base: str, quote: str, rate: str, day, source: str) -> None:
    """Record one rate: RATE units of QUOTE per one BASE (e.g. EUR RUB 98.1234)."""
    on: date = day.date() if day else now().date()
    try:
        row = rates.record(base, quote, on, rate, source, now=now())
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    shown = rates.describe(row)
    click.echo(f"{shown['quote']} per {shown['base']} on {shown['on']}: {shown['rate']} ({shown['source']})")


@rates_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Record every rate of an ECB eurofxref XML file or a Bank of Russia XML_daily file."""
    try:
        rows = rates.import_file(file.read_bytes(), now=now())
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    days = sorted({r.on for r in rows})
    click.echo(f"{len(rows)} rates for {len(days)} day(s), {days[0].isoformat()} to {days[-1].isoformat()}; "
               "rates already recorded were left as they were.")
