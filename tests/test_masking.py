"""mask_secrets on every kind of secret a support team pastes, on what must stay, and on hostile
input: complete, idempotent and linear."""

from __future__ import annotations

import random
import time

import pytest
from fake_secrets import KINDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from understudy.text import markdown_to_text
from understudy.text.masking import find_secrets, mask_secrets
from understudy.text.outgoing import _QUICK_ACTION, _gitlab_code_blocks, safe_outgoing

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = 5.0  # seconds; every case takes milliseconds, this only catches a quadratic pattern


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_masked(kind):
    rng = random.Random(kind)
    for _ in range(5):
        snippet, secret = KINDS[kind](rng)
        masked = mask_secrets(snippet)
        assert secret not in masked, masked
        assert "[REDACTED:" in masked and mask_secrets(masked) == masked


@pytest.mark.parametrize(("sample", "masked"), [
    ("mysql -u root -pS3cretPass mydb", "mysql -u root -p[REDACTED:password] mydb"),
    # a quoted `-a` value that is no redis-cli password does not hide the `-p` inside it
    ("mysql -a 'note -p'S3cretPass' db", "mysql -a 'note -p[REDACTED:password] db"),
    ("sshpass -p hunter22 ssh x; redis-cli -a s3cr3tpw ping",
     "sshpass -p [REDACTED:password] ssh x; redis-cli -a [REDACTED:password] ping"),
    ("mysql --user=root --password=hunter2x db",
     "mysql --user=root --password=[REDACTED:password] db"),
    ("AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=x",
     "AccountName=acme;AccountKey=[REDACTED:azure_storage_key];EndpointSuffix=x"),
    ("a.txt?sv=2022-11-02&sp=r&sig=AbCdEf1234567890%2BxyzQ%3D",
     "a.txt?sv=2022-11-02&sp=r&sig=[REDACTED:azure_sas]"),
    ('s = "{\\"api_key\\": \\"a8f7e6d5c4b3a291\\"}"',
     's = "{\\"api_key\\": \\"[REDACTED:secret]\\"}"'),
    ("Call +44 20 7946 0958 or (415) 555-2671.", "Call [REDACTED:phone] or [REDACTED:phone]."),
    ("Ring 020 7946 0958 or 415-555-2671", "Ring [REDACTED:phone] or [REDACTED:phone]"),
    ("Card 4111 1111 1111 1111, amex 378282246310005",
     "Card [REDACTED:card_number], amex [REDACTED:card_number]"),
    ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN [REDACTED:iban]."),
])
def test_new_categories(sample, masked):
    assert mask_secrets(sample) == masked


@pytest.mark.parametrize("sample", [
    "Upgrade from 16.3.1 to 16.4.0; released 2024-01-02 at 12:30:45 on port 8080.",
    "Issue #123456789012, tweet 1234567890123456789, build 20240102.1, PID 31337",
    "IP 192.168.100.200 and 10.0.0.1:5432, version 1.2.3.4, v0.12.3",
    "dates 01/02/2024, 01-02-2024 10:30, 2024/01/02, 12.05.2024, 2024-12-04T02:44:26Z",
    "mysql -u root -p mydb   (it prompts for the password)",
    "pip install -r requirements.txt -p 3 and docker run -p 8080:80 app",
    "Order 4111111111111112 failed (not a valid card number)",
    "IBAN-like DE89 3704 0044 0532 0130 01 fails its checksum",
    "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 and +1 vote, C++17, 1+1=2",
    "password: ${DB_PASSWORD} and password=%(pw)s and secret: <your-secret>",
    "Took 0:00:12 over 3 retries; 100-200 requests/s",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
])
def test_ordinary_numbers_and_words_stay(sample):
    assert find_secrets(sample) == []


HOSTILE = {
    "pem headers": "-----BEGIN RSA PRIVATE KEY-----\n",
    "one-line pem": "-----BEGIN EC PRIVATE KEY----- MIIE ",
    "unclosed tags": "<a ",
    "assignments": 'password: "',
    "escaped json": '\\"token\\": \\"',
    "digits": "4 ",
    "phone numbers": "+49 30 1234 ",
    "emails": "a@b.",
    "mysql": "mysql -p",
    "token prefixes": "sk-",
    "jwt prefixes": "eyJ",
    "url schemes": "a.a://u:",
}


@pytest.mark.parametrize("unit", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_megabyte_is_masked_in_bounded_time(unit):
    text = unit * (1_000_000 // len(unit))
    started = time.perf_counter()
    mask_secrets(text)
    assert time.perf_counter() - started < SLOW


# -- properties ------------------------------------------------------------------------------

PROSE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
PIECES = st.lists(st.sampled_from([
    "password", "token", "=", ": ", '"', "\\\"", "'", "-----BEGIN RSA PRIVATE KEY-----", "\n",
    "-----END RSA PRIVATE KEY-----", "MIIEow", "@", ".", "+44 ", "20 ", "4111 ", "://", "u:p@",
    "glpat-", "sk-", "Bearer ", "mysql -p", "AccountKey=", "&sig=", "DE89 ", "0", "1", " ",
    "[REDACTED:email]", "/close", "![", "](", "<img ", "```", "@all", "<!here>",
]), max_size=60).map("".join)
TEXTS = st.one_of(PROSE, PIECES, st.tuples(PROSE, PIECES).map("".join))


@FUZZ
@given(TEXTS)
def test_masking_never_crashes_and_is_idempotent(text):
    started = time.perf_counter()
    masked = mask_secrets(text)
    assert time.perf_counter() - started < SLOW
    assert mask_secrets(masked) == masked


@FUZZ
@given(st.sampled_from(sorted(KINDS)), st.randoms(use_true_random=False), PROSE, PROSE)
def test_a_planted_secret_never_survives(kind, rng, before, after):
    snippet, secret = KINDS[kind](rng)
    masked = mask_secrets(f"{before}\n{snippet}\n{after}")
    assert secret not in masked


@FUZZ
@given(TEXTS)
def test_safe_outgoing_leaves_no_quick_action_or_image(text):
    started = time.perf_counter()
    out = safe_outgoing(text)
    assert time.perf_counter() - started < SLOW
    for is_code, part in _gitlab_code_blocks(out):
        assert is_code or not _QUICK_ACTION.search(part)
    assert safe_outgoing(out) == out


@FUZZ
@given(TEXTS)
def test_the_markdown_cleaner_never_crashes(text):
    started = time.perf_counter()
    assert isinstance(markdown_to_text(text), str)
    assert time.perf_counter() - started < SLOW
