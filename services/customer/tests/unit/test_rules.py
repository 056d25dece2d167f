import pytest

from tessera_customer.customers.rules import normalise_email, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 (30) 1234-56", "+4930123456"),
        ("030 123 456", "030123456"),
        (None, None),
        ("", None),
    ],
)
def test_normalise_phone(raw: str | None, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_normalise_email() -> None:
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"
    assert normalise_email(None) is None
