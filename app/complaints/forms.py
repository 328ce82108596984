"""The complaint form and the operator's response form. They render and carry CSRF; the rules
live in the schemas."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField


class ComplaintForm(FlaskForm):
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("What happened, and what you would like us to do"))
    campaign_id = HiddenField()
    pledge_id = HiddenField()


class ResponseForm(FlaskForm):
    decision = SelectField(_l("Decision"), choices=[SelectChoice("upheld", _l("Upheld: the complaint is justified")),
                                                     SelectChoice("rejected", _l("Rejected"))])
    response = TextAreaField(_l("The answer the complainant receives"))
