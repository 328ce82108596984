"""GreenRound: crowdfunding for green investment in the Baltic Sea region."""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request, session

from app.core.boundaries import init_boundaries
from config import CONFIGS


def create_app(config_name: str | Mapping[str, Any] = "development") -> Flask:
    """Build an application. Nothing here starts threads or touches the network.

    :param config_name: "development", "testing", "production", or a mapping of
        settings laid over the testing configuration (for tests).
    """
    app = Flask(__name__, instance_relative_config=True)
    if isinstance(config_name, str):
        app.config.from_object(CONFIGS[config_name]())
    else:
        app.config.from_object(CONFIGS["testing"]())
        app.config.update(config_name)
    _configure_logging(app)
    init_boundaries(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app.logger.setLevel(logging.INFO)


def select_locale() -> str:
    """The language chosen in the header switch, else the browser's preference."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def register_extensions(app: Flask) -> None:
    from sqlalchemy import event

    from app import models  # noqa: F401  (every table registered before Alembic looks)
    from app.accounts.services import load_session_user
    from app.core.headers import init_security_headers
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
            event.listen(db.engine, "begin", _sqlite_begin)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    init_security_headers(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_session_user)

    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please log in to see that page.")
    login_manager.login_message_category = "info"


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys on, wait for locks, WAL; and let SQLAlchemy own transactions.

    pysqlite's own transaction handling breaks SAVEPOINTs; with isolation_level None
    the "begin" hook below emits BEGIN itself (SQLAlchemy's documented recipe).
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    """BEGIN IMMEDIATE: take the write lock up front, so read-then-write never deadlocks."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def register_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.api import bp as api_bp
    from app.campaigns.views import bp as campaigns_bp
    from app.complaints.views import bp as complaints_bp
    from app.disclosures.views import bp as disclosures_bp
    from app.investors.views import bp as investors_bp
    from app.loans.views import bp as loans_bp
    from app.main.views import bp as main_bp
    from app.payments.views import bp as payments_bp
    from app.payments.webhooks import bp as payments_webhooks_bp
    from app.portfolios.views import bp as portfolios_bp
    from app.settlement.views import bp as settlement_bp
    from app.statements.views import bp as statements_bp
    from app.wallets.views import bp as wallets_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(campaigns_bp, url_prefix="/campaigns")
    app.register_blueprint(investors_bp, url_prefix="/investors")
    app.register_blueprint(payments_bp, url_prefix="/payments")
    app.register_blueprint(payments_webhooks_bp)
    app.register_blueprint(loans_bp, url_prefix="/loans")
    app.register_blueprint(settlement_bp, url_prefix="/settlement")
    app.register_blueprint(portfolios_bp, url_prefix="/portfolio")
    app.register_blueprint(api_bp)
    app.register_blueprint(disclosures_bp)
    app.register_blueprint(wallets_bp)
    app.register_blueprint(statements_bp)
    app.register_blueprint(complaints_bp)


def register_error_handlers(app: Flask) -> None:
    from app.core.problems import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register as register_cli

    register_cli(app)


def register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from app.core.labels import label
    from app.core.money import format_money
    from app.core.permissions import Permission, can, current_actor

    @app.template_filter("money")
    def money_filter(amount: int, currency: str) -> str:
        return format_money(amount, currency, str(get_locale() or "en"))

    @app.context_processor
    def inject_helpers() -> dict[str, Any]:
        return {
            "can": lambda permission: can(current_actor(), Permission(permission)),
            "current_locale": str(get_locale() or "en"),
            "languages": app.config["LANGUAGES"],
            "label": label,
        }
