"""Remove payment and contact details from text before it is stored: card numbers (Luhn-checked), IBANs
(mod-97-checked), e-mail addresses and phone numbers become ``[CARD]``, ``[IBAN]``, ``[EMAIL]``, ``[PHONE]``.
Domestic bank details that have no checksum to test (a UK account number and sort code, a German
Kontonummer and BLZ, a US routing number) become ``[ACCOUNT]`` when a label names them ("account number",
"sort code", "Kontonummer", "BLZ", ...); the label stays.

Checksums keep order amounts, order numbers and dates intact: only a digit run that is a valid card number
or IBAN is replaced. Phone numbers need an international prefix (+49, 0049), a leading 0 (national
format), an area code in brackets, or the 3-3-4 shape, so amounts and dates never look like one.
"""

from __future__ import annotations

import re

CARD = "[CARD]"
IBAN = "[IBAN]"
EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
ACCOUNT = "[ACCOUNT]"
ACCOUNT_MIN_DIGITS = 6  # sort codes have 6, account numbers 6-12: fewer is an amount or a count

# IBAN lengths of the SEPA countries (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}

_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b")
_IBAN_START_RE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})")
# Digit groups joined by one space or dash: the shape card numbers are written in.
_DIGIT_RUN_RE = re.compile(r"(?<![\w+])\d+(?:[ -]\d+)*(?!\w)")
_PHONE_RE = re.compile(
    # +49 30 5550 1234, 0049 151 23456789
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}[ \-/]?(?:\(0\)[ \-/]?)?\(?\d{1,5}\)?(?:[ \-/]?\d){4,12}(?!\w)"
    r"|(?<![\w+\-./,])0[1-9]\d{1,4}(?:[ \-/]|\)\s?)?\d(?:[ \-]?\d){4,10}(?![\w.,]\d|\w)"  # 030 5550 1234
    r"|(?<![\w+\-./,])\(0?\d{2,5}\)\s?\d(?:[ \-]?\d){4,10}(?!\w)"  # (030) 5550 1234
    r"|(?<![\w+\-./,])\d{3}[ \-.]\d{3}[ \-.]\d{4}(?![\w\-.]\d|\w)"  # 555-123-4567
)

_ACCOUNT_RE = re.compile(
    r"(?P<label>\b(?:(?:bank\s+)?account\s*(?:number|no\.?|nr\.?|#)|acct\.?(?:\s*(?:no\.?|#))?|a/c(?:\s*no\.?)?"
    r"|sort\s*code|routing\s*(?:number|no\.?)|aba|kontonummer|konto(?:[-\s]?nr\.?)?|kto\.?(?:[-\s]?nr\.?)?"
    r"|bankleitzahl|blz)(?![\w-])(?:[\s:#.-]|\b(?:is|lautet|ist)\b)*)"
    r"(?P<number>\d(?:[ -]?\d){4,19})(?![\d\w])", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: known country, its length, and the mod-97 checksum."""
    iban = re.sub(r"[ -]", "", iban).upper()
    if len(iban) < 4 or IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def redact(text: str) -> str:
    """``text`` with card numbers, IBANs, labelled domestic bank details, e-mail addresses and phone numbers
    replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    text, kept = _redact_ibans(text)
    text = _redact_cards(text)
    text = _ACCOUNT_RE.sub(_account, text)
    text = _PHONE_RE.sub(PHONE, text)
    for i, original in enumerate(kept):
        text = text.replace(_marker(i), original)
    return text


def _account(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group("number"))
    return match.group("label") + ACCOUNT if digits >= ACCOUNT_MIN_DIGITS else match.group(0)


def _marker(i: int) -> str:
    # Private-use characters: not digits or word characters, so no later pattern matches inside.
    return "\ue000" + chr(0xE100 + i) + "\ue000"


def _redact_ibans(text: str) -> tuple[str, list[str]]:
    """Valid IBANs replaced; IBAN-shaped text with a bad checksum is set aside (returned) so that its
    digits are not taken for a phone or card number afterwards."""
    out: list[str] = []
    kept: list[str] = []
    pos = 0
    for match in _IBAN_START_RE.finditer(text):
        if match.start() < pos:
            continue
        length = IBAN_LENGTHS.get(match.group(1).upper())
        if length is None:
            continue
        end = _take_alnum(text, match.start(), length)
        if end is None:
            continue
        out.append(text[pos:match.start()])
        if iban_valid(text[match.start():end]):
            out.append(IBAN)
        else:
            out.append(_marker(len(kept)))
            kept.append(text[match.start():end])
        pos = end
    out.append(text[pos:])
    return "".join(out), kept


def _take_alnum(text: str, start: int, count: int) -> int | None:
    """End index after ``count`` letters/digits from ``start``, allowing single spaces or dashes between,
    and ending at a word boundary; None when the text does not have that shape."""
    taken = 0
    i = start
    while i < len(text) and taken < count:
        ch = text[i]
        if ch.isascii() and ch.isalnum():
            taken += 1
            i += 1
        elif ch in " -" and taken and i + 1 < len(text) and text[i + 1].isascii() and text[i + 1].isalnum():
            i += 1
        else:
            return None
    if taken < count or (i < len(text) and text[i].isalnum()):
        return None
    return i


def _redact_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return _cards_in_run(match.group(0))

    return _DIGIT_RUN_RE.sub(replace, text)


def _cards_in_run(run: str) -> str:
    """Replace, inside one run of digit groups, each sequence of whole groups that is a card number.

    Card numbers are printed in groups of 3-6 digits (4-4-4-4, 4-6-5) or as one block, so runs with
    1-2 digit groups (dates, versions) are left alone.
    """
    groups = re.split(r"([ -])", run)
    parts = groups[0::2]
    seps = [*groups[1::2], ""]
    out: list[str] = []
    i = 0
    while i < len(parts):
        found = 0
        for j in range(len(parts), i, -1):
            chunk = parts[i:j]
            digits = "".join(chunk)
            if not 13 <= len(digits) <= 19:
                continue
            if len(chunk) > 1 and any(len(p) < 3 for p in chunk):
                continue
            if luhn_valid(digits):
                found = j
                break
        if found:
            out.append(CARD + seps[found - 1])
            i = found
        else:
            out.append(parts[i] + seps[i])
            i += 1
    return "".join(out)
