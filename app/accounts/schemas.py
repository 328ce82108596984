"""The rules for account input — one set, used by the API and the HTML forms alike."""

import re

import pycountry
from email_validator import EmailNotValidError, validate_email
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from app.core.permissions import SELF_SERVICE_ROLES, Role

MIN_PASSWORD_LENGTH = 10
def COUNTRY(value: str) -> None:  # noqa: N802 (used like the marshmallow validators it replaced)
    """A real ISO 3166-1 alpha-2 code in capitals, the same rule the campaign schema applies."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value) or not pycountry.countries.get(alpha_2=value):
        raise ValidationError("Use a real two-letter ISO 3166 country code, e.g. EE.")


def normalise_email(value: str) -> str:
    """Validate syntax (no DNS: this must work offline) and return the lower-cased address."""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError(f"Not a valid e-mail address: {exc}") from exc


class RegistrationSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(
            min=MIN_PASSWORD_LENGTH,
            max=200,
            error=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
        ),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(
        required=True,
        validate=validate.OneOf(
            [r.value for r in SELF_SERVICE_ROLES],
            error="Choose investor or owner; other roles are granted by the operator.",
        ),
    )
    country = fields.String(required=True, validate=COUNTRY)

    @validates("email")
    def _email(self, value: str, **kwargs) -> None:
        normalise_email(value)

    @post_load
    def _normalise(self, data: dict, **kwargs) -> dict:
        data["email"] = normalise_email(data["email"])
        data["name"] = data["name"].strip()
        return data


class CredentialsSchema(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


def _new_password() -> fields.String:
    return fields.String(required=True, load_only=True, validate=validate.Length(
        min=MIN_PASSWORD_LENGTH, max=200, error=f"Use at least {MIN_PASSWORD_LENGTH} characters."))


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    new_password = _new_password()


class PasswordResetRequestSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))


class PasswordResetConfirmSchema(Schema):
    token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    new_password = _new_password()


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    country = fields.String()
    roles = fields.Method("_roles")
    created_at = fields.DateTime()

    def _roles(self, user) -> list[str]:
        return sorted(user.role_names)


class MeSchema(UserSchema):
    """The signed-in user, with the investor profile and classification (null until a
    profile exists; a fund manager's classification is the fund's, "professional")."""

    investor_profile = fields.Method("_investor_profile", allow_none=True)
    classification = fields.Method("_classification", allow_none=True)

    def _investor_profile(self, user) -> dict | None:
        from app.core.clock import now
        from app.investors import services
        from app.investors.schemas import InvestorProfileSchema

        profile = services.get_profile(user)
        return InvestorProfileSchema().dump(services.profile_dict(profile, now())) if profile else None

    def _classification(self, user) -> str | None:
        from app.investors import services

        return services.classification_of(user)


ALL_ROLES = [r.value for r in Role]
