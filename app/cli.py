"""Command-line groups: ``flask users …`` and ``flask demo …``."""

from email import message_from_bytes
from email.policy import default as default_policy

import click
from flask import Flask
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from app.core.clock import now
from app.core.errors import DomainError
from app.core.permissions import Role
from app.extensions import db

users = AppGroup("users", help="Manage user accounts.")
demo = AppGroup("demo", help="Demo data for trying GreenRound out.")


@users.command("create")
@click.option("--email", required=True, help="Sign-in e-mail address.")
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--name", default=None, help="Display name (defaults to the e-mail's local part).")
@click.option("--country", default="EE", show_default=True, help="ISO 3166 alpha-2 country.")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    help="Role to grant; repeat for several.",
)
@click.option("--fund", default=None, help="Fund a fund_manager acts for; created if new.")
def create_user_command(email: str, password: str, name: str | None, country: str, roles: tuple[str, ...],
                        fund: str | None) -> None:
    """Create a user with any roles (operators, regulators and fund managers are made here)."""
    from app.accounts.schemas import MIN_PASSWORD_LENGTH
    from app.accounts.services import create_user
    from app.investors import services as investors

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password")
    if fund is not None and Role.FUND_MANAGER.value not in roles:
        raise click.BadParameter("only a fund_manager acts for a fund; add --role fund_manager", param_hint="--fund")
    try:
        user = create_user(
            email=email,
            password=password,
            name=name or email.split("@")[0],
            country=country.upper(),
            roles=[Role(r) for r in roles],
            now=now(),
        )
        attached = None
        if fund is not None:
            attached = investors.attach_fund_manager(user, fund, country=country.upper(),
                                                     currency=investors.current_jurisdiction().currency, now=now())
    except DomainError as exc:
        db.session.rollback()
        messages = "; ".join(m for msgs in exc.errors.values() for m in msgs) or exc.detail
        raise click.ClickException(messages) from exc
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}> with roles: {', '.join(sorted(user.role_names))}")
    if attached is not None:
        click.echo(f"Fund manager of {attached.name} (fund {attached.id})")


@demo.command("seed")
def seed_command() -> None:
    """Load demo users and campaigns; running it again changes nothing."""
    from app.demo import seed

    report = seed(now=now())
    db.session.commit()
    click.echo("Demo accounts (e-mail / password / roles):")
    for email, password, roles in report.accounts:
        click.echo(f"  {email:32} {password:20} {roles}")
    click.echo(f"Campaigns: {report.campaigns_created} created, {report.campaigns_existing} already there.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Development server; runs the sweeps in-process every 30 s when SCHEDULER_ENABLED."""
    from flask import current_app

    app = current_app._get_current_object()
    if app.config.get("MAIL_DEV_SINK"):
        _start_mail_sink(app)
    if app.config["SCHEDULER_ENABLED"]:
        from app.jobs.scheduler import build_scheduler

        build_scheduler(app, blocking=False).start()
        click.echo("In-process scheduler started (SCHEDULER_ENABLED=true).")
    # app.run() is refused inside a flask command; the reloader would start a second scheduler.
    run_simple(host, port, app, threaded=True, use_reloader=False)


def _start_mail_sink(app: Flask) -> None:
    """A local SMTP server that prints the outbox, so development needs no mail setup."""
    from aiosmtpd.controller import Controller

    class Printer:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook)
            message = message_from_bytes(envelope.content, policy=default_policy)
            click.echo(f"[mail] to {', '.join(envelope.rcpt_tos)}: {message['Subject']}")
            return "250 OK"

    try:
        Controller(Printer(), hostname=app.config["MAIL_SERVER"], port=app.config["MAIL_PORT"]).start()
    except OSError as exc:
        click.echo(f"Mail sink not started ({exc}); the outbox keeps messages until a server answers.")
    else:
        click.echo(f"Development mail sink on {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}.")


def register(app: Flask) -> None:
    from app.jobs.cli import jobs

    app.cli.add_command(users)
    app.cli.add_command(demo)
    app.cli.add_command(jobs)
    app.cli.add_command(serve_command)
    app.cli.add_command(__import__("app.campaigns.cli", fromlist=["rates_cli"]).rates_cli)
    app.cli.add_command(__import__("app.disclosures.cli", fromlist=["audit_cli"]).audit_cli)
