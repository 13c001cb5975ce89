"""Checks that tell a card number, an IBAN, a phone number or an AWS secret from other digits."""

from __future__ import annotations

import re

# IBAN lengths of the countries most often seen; others need 15 to 34 characters.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24,
    "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}
# (prefix, lengths) of the card networks: Visa, Mastercard, American Express, Diners, Discover,
# JCB, UnionPay.
_CARD_NETWORKS = (
    (re.compile(r"4"), (13, 16, 19)),
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),
    (re.compile(r"3[47]"), (15,)),
    (re.compile(r"3(?:0[0-5]|[689])"), (14, 16, 19)),
    (re.compile(r"6(?:011|5|4[4-9])|35|62"), (16, 17, 18, 19)),
)
_AWS_CONTEXT = re.compile(r"aws|akia|asia|secret", re.I)
_NOT_DIGIT = re.compile(r"\D")


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum of card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_ok(match: re.Match[str]) -> bool:
    """A payment card number: a card network's prefix and length, and the Luhn checksum (the
    pattern admits only the groupings cards are printed in)."""
    digits = _NOT_DIGIT.sub("", match.group(0))
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    return any(prefix.match(digits) and len(digits) in lengths
               for prefix, lengths in _CARD_NETWORKS) and luhn_ok(digits)


def iban_ok(match: re.Match[str]) -> bool:
    """An IBAN: the length of its country and the ISO 13616 mod-97 checksum."""
    iban = match.group(0).replace(" ", "")
    expected = IBAN_LENGTHS.get(iban[:2])
    if (len(iban) != expected) if expected else not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


# the separators the phone patterns admit, deleted to count the digits
_PHONE_SEPARATORS = str.maketrans("", "", " .-/()+")


def phone_ok(match: re.Match[str]) -> bool:
    """A phone number rather than a version, date, time, port or id: as many digits as phone
    numbers have (the pattern makes sure no more digits follow)."""
    text = match.group()
    digits = len(text.translate(_PHONE_SEPARATORS))
    first = text[0]
    if first == "+":
        return 8 <= digits <= 15
    if first == "0":
        return 9 <= digits <= 12
    return digits == 10


def aws_secret_ok(match: re.Match[str]) -> bool:
    """A 40-character AWS secret access key: mixed case with digits, near AWS words or a key id
    (a git hash is lower-case hex, a base64 digest has no AWS word nearby)."""
    value = match.group(0)
    if not (any(c.isdigit() for c in value) and any(c.islower() for c in value)
            and any(c.isupper() for c in value)):
        return False
    text, start, end = match.string, match.start(), match.end()
    return bool(_AWS_CONTEXT.search(text, max(0, start - 200), min(len(text), end + 200)))
