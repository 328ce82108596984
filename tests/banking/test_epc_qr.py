import pytest

from app.banking.epc_qr import epc_payload, epc_png_data_uri, epc_qr, epc_svg
from app.banking.references import make_reference
from app.core.errors import ValidationFailed

REF = make_reference("P", 1)


def payload(**kw):
    args = {"beneficiary": "GreenRound OÜ", "iban": "ee38 2200 2210 2014 5685", "bic": "HABAEE2X", "amount": 12345,
            "reference": REF}
    args.update(kw)
    return epc_payload(**args)


def test_payload_lines():
    assert payload().split("\n") == [
        "BCD", "002", "1", "SCT", "HABAEE2X", "GreenRound OÜ", "EE382200221020145685", "EUR123.45", "", REF,
    ]
    assert payload(bic=None, amount=1).split("\n")[4] == ""
    assert "EUR0.01" in payload(amount=1)
    assert "EUR999999999.99" in payload(amount=99_999_999_999)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"beneficiary": "x" * 71}, "beneficiary"),
        ({"beneficiary": "  "}, "beneficiary"),
        ({"amount": 0}, "amount"),
        ({"amount": 100_000_000_000}, "amount"),
        ({"currency": "SEK"}, "currency"),
        ({"iban": "EE39 2200 2210 2014 5685"}, "iban"),
        ({"bic": "HABA"}, "bic"),
        ({"reference": REF[:-1] + "9"}, "reference"),
    ],
)
def test_limits_of_the_standard(kw, field):
    with pytest.raises(ValidationFailed) as caught:
        payload(**kw)
    assert field in caught.value.errors


def test_qr_code_images():
    data = payload(beneficiary="x" * 70)
    qr = epc_qr(data)
    assert qr.error == "M" and qr.version <= 13
    svg = epc_svg(data)
    assert svg.startswith("<svg") and "</svg>" in svg
    assert epc_png_data_uri(data).startswith("data:image/png;base64,iVBOR")
