"""HTML forms for the investor area. They render and carry CSRF; the rules live in the
schemas and services, whose field errors the views put back on these fields."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts.forms import COUNTRIES

#: Amount fields typed in major units (euros, roubles); the view converts them to minor units.
AMOUNT_FIELDS = ("annual_income", "liquid_assets", "annual_commitments", "other_platforms_this_year")

CRITERIA_LABELS = {
    "income_or_portfolio": _l("My gross income is at least EUR 60,000 a year, or my portfolio of financial "
                              "instruments (cash deposits included) exceeds EUR 100,000."),
    "financial_sector_experience": _l("I work or have worked for at least one year in the financial sector in a "
                                      "position requiring knowledge of these investments, or held an executive "
                                      "position for at least 12 months in such a firm."),
    "significant_transactions": _l("I have made transactions of significant size on capital markets at an average "
                                   "of 10 per quarter over the previous four quarters."),
    "qualified_status_recognised": _l("A broker, bank or management company has recognised me as a qualified "
                                      "investor."),
}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProfileForm(FlaskForm):
    legal_name = StringField(_l("Legal name (as in your identity document)"))
    address = TextAreaField(_l("Address"))
    country = SelectField(_l("Country of residence"), choices=COUNTRIES)
    # The choices are the jurisdiction's currency; anything else reaches the service, which says why not.
    currency = SelectField(_l("Currency of the amounts below"), validate_choice=False)
    annual_income = StringField(_l("Net annual income"))
    liquid_assets = StringField(_l("Liquid assets (cash, deposits, listed securities)"))
    annual_commitments = StringField(_l("Annual financial commitments (rent, loan repayments, alimony)"))
    other_platforms_this_year = StringField(_l("Invested on other crowdfunding platforms this calendar year"))


class KnowledgeTestForm(FlaskForm):
    """CSRF only: the question radios are rendered from the question bank."""


class AcknowledgeForm(FlaskForm):
    acknowledge = BooleanField(_l("I have read the simulation and understand that I may lose the money I invest."))


class ClassificationRequestForm(FlaskForm):
    criteria = MultiCheckboxField(_l("The criteria I meet"), validate_choice=False)
    evidence = TextAreaField(_l("Details and evidence (employer, statements, broker letter)"))


class IdentityDecisionForm(FlaskForm):
    """No decision is pre-selected (nor on the classification form): the operator chooses."""

    status = SelectField(
        _l("Decision"),
        choices=[SelectChoice("", _l("Choose")), SelectChoice("verified", _l("Verified")),
                 SelectChoice("rejected", _l("Rejected"))],
        validators=[InputRequired(_l("Choose Verified or Rejected."))],
    )
    reason = TextAreaField(_l("Reason (required when rejecting; the investor sees it)"))


class ClassificationDecisionForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=[SelectChoice("", _l("Choose")), SelectChoice("approve", _l("Approve")),
                 SelectChoice("refuse", _l("Refuse"))],
        validators=[InputRequired(_l("Choose Approve or Refuse."))],
    )
    reason = TextAreaField(_l("Reason (required when refusing; the investor sees it)"))


class ErasureForm(FlaskForm):
    confirm = BooleanField(_l("I understand that my account will be anonymised and closed for good."))
    password = PasswordField(_l("Your password"), validators=[InputRequired()])


class IdentityDocumentForm(FlaskForm):
    kind = SelectField(_l("What the document is"), choices=[
        SelectChoice("", _l("Choose the kind of document")),
        SelectChoice("passport", _l("Passport")),
        SelectChoice("id_card", _l("National identity card")),
        SelectChoice("residence_permit", _l("Residence permit")),
        SelectChoice("driving_licence", _l("Driving licence")),
        SelectChoice("proof_of_address", _l("Proof of address (a utility bill or bank statement under 3 months old)")),
    ], validators=[InputRequired(_l("Choose what the document is."))])
    file = FileField(_l("PDF, JPEG or PNG, at most 10 MB"))
