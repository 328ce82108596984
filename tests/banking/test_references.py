import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iso11649

from app.banking.references import find_references, format_reference, is_valid, make_reference, normalize
from app.core.errors import ValidationFailed


def test_made_from_our_ids_and_valid():
    for ref in (make_reference(1234), make_reference("P", 42), make_reference("P42"), make_reference("I", 10**19)):
        assert ref.startswith("RF") and is_valid(ref) and iso11649.is_valid(ref)
    assert make_reference("P", 42) == make_reference("p42")
    assert make_reference("P", 42) != make_reference("W", 42)


def _library_says(text: str) -> bool:
    compact = iso11649.compact(text)
    return iso11649.is_valid(text) and compact[:2] == "RF" and compact[4:].isalnum() and len(compact) <= 25


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(alphabet="RFrf0123456789ABCPXYZ ", max_size=30),
    st.builds(lambda body, typo: make_reference(body) if typo is None else make_reference(body)[:-1] + typo,
              st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=21),
              st.none() | st.sampled_from("0123456789"))))
def test_the_checksum_agrees_with_python_stdnum(text):
    assert is_valid(text) == _library_says(text)


@pytest.mark.parametrize("body", ["", "P-1", "X" * 22])
def test_bad_bodies_refused(body):
    with pytest.raises(ValueError, match="reference body"):
        make_reference(body)


def one_digit_changed(ref: str) -> str:
    last = ref[-1]
    return ref[:-1] + ("0" if last != "0" else "1")


def test_one_digit_changed_is_invalid_and_never_found():
    ref = make_reference("P", 987654)
    typo = one_digit_changed(ref)
    assert not is_valid(typo)
    assert find_references(f"Pledge {typo} thanks") == []
    assert find_references(f"Pledge {format_reference(typo)}") == []
    with pytest.raises(ValidationFailed) as caught:
        normalize(typo)
    assert "reference" in caught.value.errors


def test_found_in_free_text_with_spaces_and_lower_case():
    a, b = make_reference("P", 7), "RF18539007547034"
    text = f"Invest {format_reference(b).lower()} thank you; also {a}, and {a} again / RF17 5390 0754 7034"
    assert find_references(text) == [b, a]
    assert find_references(f"{a}{b}") == []  # glued together: neither is a word of its own
    assert find_references("REF18539007547034") == []
    assert find_references(None) == [] and find_references("no reference") == []


def test_normalize_and_format():
    assert normalize("rf18 5390 0754 7034") == "RF18539007547034"
    assert format_reference("RF18539007547034") == "RF18 5390 0754 7034"


def test_a_reference_followed_by_words_is_found_even_when_a_longer_run_passes_the_checksum_too():
    # "RF17P1" + "THANK" happens to pass the mod-97 check as well: both are candidates.
    assert make_reference("P", 1) == "RF17P1"
    assert "RF17P1" in find_references("Pledge RF17P1 thank you")
