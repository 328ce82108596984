import pytest

from app.banking.iban import format_iban, mask_iban, normalize_bic, normalize_iban, validate_account
from app.core.errors import ValidationFailed


def problem(call, *args, field="iban"):
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    assert list(caught.value.errors) == [field]
    return caught.value.errors[field][0]


def test_lowercase_with_spaces_is_accepted_and_normalised():
    assert normalize_iban("  ee38 2200 2210 2014 5685 ") == "EE382200221020145685"
    assert normalize_iban("de89370400440532013000") == "DE89370400440532013000"


@pytest.mark.parametrize(
    ("iban", "says"),
    [
        ("EE39 2200 2210 2014 5685", "check digits"),  # one check digit changed
        ("EE38 2200 2210 2014 5686", "check digits"),  # one account digit changed
        ("EE38 2200 2210 2014 568", "length"),
        ("EE38 2200 2210 2014 56850", "length"),
        ("XX38 2200 2210 2014 5685", "country"),
        ("EE38 2200 2210 2014 568Z", "structure"),
        ("", "Enter"),
    ],
)
def test_bad_ibans_name_the_problem(iban, says):
    assert says in problem(normalize_iban, iban)


def test_bic_normalised_or_refused():
    assert normalize_bic(" habaee2x ") == "HABAEE2X"
    assert normalize_bic("DEUTDEFF500") == "DEUTDEFF500"
    assert normalize_bic(None) is None and normalize_bic("") is None
    assert "8 or 11" in problem(normalize_bic, "HABAEE2", field="bic")
    assert "country" in problem(normalize_bic, "HABAXX2X", field="bic")


def test_account_reports_both_fields():
    with pytest.raises(ValidationFailed) as caught:
        validate_account("EE39 2200 2210 2014 5685", "HABA")
    assert set(caught.value.errors) == {"iban", "bic"}
    account = validate_account("ee382200221020145685", "habaee2x")
    assert (account.iban, account.bic) == ("EE382200221020145685", "HABAEE2X")
    assert account.iban_masked == "EE38 **** **** **** 5685"


def test_masked_and_formatted():
    assert mask_iban("EE382200221020145685") == "EE38 **** **** **** 5685"
    assert mask_iban("DE89 3704 0044 0532 0130 00") == "DE89 **** **** **** ** 3000"
    assert format_iban("ee382200221020145685") == "EE38 2200 2210 2014 5685"
