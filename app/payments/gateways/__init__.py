"""Payment gateways, chosen by ``PAYMENT_GATEWAY``."""

from flask import Flask, current_app

from app.payments.gateways.base import PaymentGateway


def build_gateway(app: Flask) -> PaymentGateway:
    name = app.config["PAYMENT_GATEWAY"]
    if name == "sandbox":
        from app.payments.gateways.sandbox import SandboxGateway

        return SandboxGateway(journal_path=app.config.get("SANDBOX_JOURNAL"))
    if name == "stripe":
        from app.payments.gateways.stripe import StripeGateway

        return StripeGateway.from_config(app.config)
    raise RuntimeError(f"Unknown PAYMENT_GATEWAY {name!r}: use sandbox or stripe")


def gateway() -> PaymentGateway:
    """The app's gateway, built once per app (tests may replace ``app.extensions['gateway']``)."""
    if "gateway" not in current_app.extensions:
        current_app.extensions["gateway"] = build_gateway(current_app)
    return current_app.extensions["gateway"]
