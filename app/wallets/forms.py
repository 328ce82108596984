"""HTML forms of the wallet: the bank account, a withdrawal (in people's units), a payment
file. Rules live in ``wallets.schemas`` and ``wallets.services``."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired


class BankAccountForm(FlaskForm):
    holder_name = StringField(_l("Account holder"), validators=[InputRequired(_l("Enter the account holder's name."))],
                              render_kw={"autocomplete": "name"})
    iban = StringField(_l("IBAN"), validators=[InputRequired(_l("Enter the IBAN."))],
                       render_kw={"autocomplete": "off", "spellcheck": "false",
                                  "placeholder": "EE38 2200 2210 2014 5685"})
    bic = StringField(_l("BIC (optional)"), render_kw={"autocomplete": "off", "spellcheck": "false"})


class WithdrawalForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[InputRequired(_l("Enter an amount."))],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    currency = SelectField(_l("Currency"), validate_choice=False)
    #: A fresh token per render: it becomes the withdrawal's idempotency key (a double click withdraws once).
    idempotency_token = HiddenField()


class BatchForm(FlaskForm):
    currency = HiddenField()
