"""Redaction of card numbers, IBANs, domestic bank details, e-mail addresses and phone numbers, and what it
must leave alone."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnpl_assistant.redact import iban_valid, luhn_valid, redact


@pytest.mark.parametrize(("text", "expected"), [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks"),
    ("4111-1111-1111-1111", "[CARD]"),
    ("4111111111111111", "[CARD]"),
    ("mastercard 5555 5555 5555 4444.", "mastercard [CARD]."),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("13 digits 4222222222222", "13 digits [CARD]"),
    ("19 digits 6011 0009 9013 9424 009", "19 digits [CARD]"),
    ("paid 4111 1111 1111 1111 24 EUR", "paid [CARD] 24 EUR"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
    ("DE89370400440532013000", "[IBAN]"),
    ("lowercase de89 3704 0044 0532 0130 00", "lowercase [IBAN]"),
    ("NL91ABNA0417164300 is mine", "[IBAN] is mine"),
    ("GB82 WEST 1234 5698 7654 32.", "[IBAN]."),
    ("FR14 2004 1010 0505 0001 3M02 606", "[IBAN]"),
    ("write to jane.doe+bnpl@example.com now", "write to [EMAIL] now"),
    ("Max.Mustermann@mail.example.de", "[EMAIL]"),
    ("call +49 30 5550 1234", "call [PHONE]"),
    ("call 0049 151 23456789 or 0151 2345678", "call [PHONE] or [PHONE]"),
    ("(030) 5550 1234", "[PHONE]"),
    ("030/5550-1234", "[PHONE]"),
    ("555-123-4567", "[PHONE]"),
    ("my account number is 31926819, sort code 60-16-13", "my account number is [ACCOUNT], sort code [ACCOUNT]"),
    ("Account No: 12345678", "Account No: [ACCOUNT]"),
    ("acct # 0044 0532 01", "acct # [ACCOUNT]"),
    ("meine Kontonummer lautet 532013000, BLZ 370 400 44", "meine Kontonummer lautet [ACCOUNT], BLZ [ACCOUNT]"),
    ("Kto.-Nr. 1234567", "Kto.-Nr. [ACCOUNT]"),
    ("routing number 021000021", "routing number [ACCOUNT]"),
])
def test_redacts(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",  # Luhn fails
    "4111111111111112",
    "DE89 3704 0044 0532 0130 01",  # mod-97 fails
    "DE00 3704 0044 0532 0130 00",  # check digits wrong
    "order ord-10001 of 89.90 EUR",
    "1,292.16 EUR in 12 instalments of 107.68 EUR",
    "1.200,00 € bis zum 27.11.2026",
    "due 2026-11-27, then 2026-12-11 and 2027-01-08",
    "hours 08:00-20:00, Sat 09:00-17:00",
    "01067 Dresden, 10115 Berlin",
    "ticket HND-000123 for cust-012",
    "version 1.2.3",
    "I paid 3 times 24.75 and 1500 EUR",
    "user@localhost",
    "my account shows 24.75 EUR twice",
    "auf mein Konto 50 Euro zurück, Konto 1.234,56 €",
    "account number 12345",  # too short for an account number
    "my accountant said ord-10001",
])
def test_near_misses_stay(text: str) -> None:
    assert redact(text) == text


def test_everything_in_one_message() -> None:
    text = ("Hi, I'm jane@example.com, card 5555 5555 5555 4444, IBAN DE89 3704 0044 0532 0130 00, "
            "phone +49 151 2345 6789. Order ord-10003 of 89.90 EUR due 2026-11-27.")
    out = redact(text)
    assert out == ("Hi, I'm [EMAIL], card [CARD], IBAN [IBAN], phone [PHONE]. Order ord-10003 of 89.90 EUR "
                   "due 2026-11-27.")


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not luhn_valid("4111 1111")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE89 3704 0044 0532 0130 01")
    assert not iban_valid("DE8937040044053201300")  # one digit short


def test_empty_text() -> None:
    assert redact("") == ""


def _with_luhn_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("unreachable")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=15, max_size=15), st.sampled_from([" ", "-", ""]),
       st.sampled_from(["card ", "pay with ", "Nummer: "]))
def test_any_luhn_valid_16_digit_card_is_redacted(body: str, sep: str, prefix: str) -> None:
    number = _with_luhn_digit(body)
    shown = sep.join(number[i:i + 4] for i in range(0, 16, 4))
    out = redact(f"{prefix}{shown} thanks")
    assert out == f"{prefix}[CARD] thanks"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=999999), st.dates(date(1900, 1, 1), date(2100, 12, 31)))
def test_amounts_and_dates_are_never_touched(cents: int, day: date) -> None:
    text = f"order of {cents // 100}.{cents % 100:02d} EUR on {day} ({day:%d.%m.%Y})"
    assert redact(text) == text
