"""Command-line groups: ``flask users …`` and ``flask demo …``."""

import click
from flask import Flask
from flask.cli import AppGroup

from app.core.clock import now
from app.core.errors import ValidationFailed
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
def create_user_command(email: str, password: str, name: str | None, country: str, roles: tuple[str, ...]) -> None:
    """Create a user with any roles (operators, regulators and fund managers are made here)."""
    from app.accounts.schemas import MIN_PASSWORD_LENGTH
    from app.accounts.services import create_user

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password")
    try:
        user = create_user(
            email=email,
            password=password,
            name=name or email.split("@")[0],
            country=country.upper(),
            roles=[Role(r) for r in roles],
            now=now(),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        messages = "; ".join(m for msgs in exc.errors.values() for m in msgs) or exc.detail
        raise click.ClickException(messages) from exc
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}> with roles: {', '.join(sorted(user.role_names))}")


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


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(demo)
