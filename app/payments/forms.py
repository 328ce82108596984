"""HTML forms for pledging. They collect input in people's units (euros) and carry CSRF;
the rules live in ``payments.schemas`` and ``payments.services``."""

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired


def new_token() -> str:
    """A fresh per-render token: it becomes the pledge's idempotency key, so a double click pledges once."""
    return secrets.token_urlsafe(18)


class PledgeForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[InputRequired(_l("Enter an amount."))],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    payment_method = SelectField(_l("Pay with"), validate_choice=False)
    #: Shown only when the limits engine asks for it; never pre-ticked.
    acknowledge_risk = BooleanField(_l("I have read the risk warning and understand that I may lose all the "
                                       "money I invest."), default=False)
    idempotency_token = HiddenField()
    kiis_version = HiddenField()

    def set_choices(self, choices: list[tuple[str, str]]) -> None:
        self.payment_method.choices = [SelectChoice(value, label) for value, label in choices]


class ActionForm(FlaskForm):
    """CSRF only: revoke, confirm and cancel buttons."""
