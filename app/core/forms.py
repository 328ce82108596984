"""Helpers that let WTForms render what the services validated."""

from flask_wtf import FlaskForm

from app.core.errors import DomainError


def apply_errors(form: FlaskForm, error: DomainError, field_map: dict[str, str] | None = None) -> None:
    """Attach a service's field errors to the form's fields; others go to ``form.form_errors``.

    ``field_map`` renames API-shaped keys (``instrument.term_months``) to form fields.
    """
    for name, messages in error.errors.items():
        name = (field_map or {}).get(name, name)
        field = getattr(form, name.split(".")[0], None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
    if not error.errors:
        form.form_errors.append(error.detail)
