"""HTML forms for accounts. They render and carry CSRF; the rules live in the schemas."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired

COUNTRIES = [
    SelectChoice("EE", _l("Estonia")),
    SelectChoice("LV", _l("Latvia")),
    SelectChoice("LT", _l("Lithuania")),
    SelectChoice("FI", _l("Finland")),
    SelectChoice("SE", _l("Sweden")),
    SelectChoice("DK", _l("Denmark")),
    SelectChoice("DE", _l("Germany")),
    SelectChoice("PL", _l("Poland")),
    SelectChoice("NO", _l("Norway")),
    SelectChoice("RU", _l("Russia")),
]


class RegistrationForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[InputRequired()])
    email = EmailField(_l("E-mail"), validators=[InputRequired()])
    password = PasswordField(_l("Password (at least 10 characters)"), validators=[InputRequired()])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords do not match."))],
    )
    role = SelectField(
        _l("I want to"),
        choices=[
            SelectChoice("investor", _l("invest in projects")),
            SelectChoice("owner", _l("raise funds for a project")),
        ],
    )
    country = SelectField(_l("Country"), choices=COUNTRIES)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])
    remember = BooleanField(_l("Keep me signed in on this device"))


class LogoutForm(FlaskForm):
    """Empty but for CSRF: logging out is a POST so another site cannot trigger it."""


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired()])
    new_password = PasswordField(_l("New password (at least 10 characters)"), validators=[InputRequired()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("new_password", message=_l("The passwords do not match."))],
    )


class PasswordResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired()])


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(_l("New password (at least 10 characters)"), validators=[InputRequired()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("new_password", message=_l("The passwords do not match."))],
    )


class RevokeTokenForm(FlaskForm):
    """Empty but for CSRF: revoking a token is a POST from the tokens list."""
