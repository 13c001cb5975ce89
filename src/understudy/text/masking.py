"""Secrets and personal data found in text, and masking them before text leaves the machine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SecretRule:
    """One kind of secret: a pattern, the group to mask, and an optional check of a match."""

    kind: str
    pattern: re.Pattern[str]
    group: str | int = 0
    check: Any = None


_PLACEHOLDER_VALUE = re.compile(
    r"^(?:[$<{%\[(*]|\.\.\.|x{3,}$|null$|none$|nil$|true$|false$|undefined$|required$"
    r"|optional$|string$|yes$|no$|redacted$|hidden$|masked$|secret$|password$|token$"
    r"|your[_-]|my[_-]|example|placeholder|env\b|os\.|process\.|settings\.|config\.|self\.)",
    re.I,
)
_FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "js", "ts", "css", "json", "yml",
              "yaml", "py", "rb", "go", "txt", "log", "md", "lock", "gz", "zip", "html"}


def _assignment_ok(match: re.Match[str]) -> bool:
    """Whether a `key = value` match holds a real value rather than code or a placeholder."""
    value, quoted = match.group("secret"), match.group("quote")
    if len(value) < 3 or _PLACEHOLDER_VALUE.match(value):
        return False
    if quoted or "=" in match.group("op"):
        key = match.group("key").lower().strip("'\"[]")
        # `token=token`, `api_key=settings.api_key`: a variable, not a value
        return quoted or not (re.fullmatch(r"[a-z_.]+", value) and ("_" in value or "." in value
                                                                   or value.lower() == key))
    rest = match.string[match.end():match.end() + 2]
    ends_value = rest[:1] in ("", "\n", ",", ";", "}", ")") or rest.startswith(("\r", " #"))
    return ends_value or bool(re.search(r"\d", value) and re.search(r"[A-Za-z]", value))


def _email_ok(match: re.Match[str]) -> bool:
    """An email address, not an SSH remote (git@host:group), a URL user or a file@2x.png."""
    start = match.start()
    word_before = match.string[max(0, start - 300):start].rsplit(None, 1)[-1:] or [""]
    after = match.string[match.end():match.end() + 2]
    tld = match.group(0).rsplit(".", 1)[-1].lower()
    return ("://" not in word_before[0] and not re.match(r":[^\s]", after)
            and tld not in _FILE_TLDS)


_PASSWORD_KEY = r"(?<![\w.-])[\w.-]*?(?:password|passwd|pwd|passphrase)(?:[_-]?(?:hash|digest))?"
_SECRET_KEY = (r"(?<![\w.-])[\w.-]*?(?:secret[_-]?key|secret|token|api[_-]?key|apikey"
               r"|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token)"
               r"(?:[_-]?(?:base|value))?")


def _assignment(key: str) -> str:
    """A `key = value`, `key: value` or `"key": "value"` assignment, the value as `secret`."""
    return (rf"(?P<key>{key})(?P<op>['\"\]]{{0,3}}[ \t]*(?:=>|:=|=|:)[ \t]*)(?P<quote>['\"])?"
            r"(?P<secret>(?(quote)[^'\"\n]+|[^\s'\",;}\)]+))(?(quote)['\"])")


SECRET_RULES: tuple[SecretRule, ...] = tuple(
    SecretRule(kind, re.compile(pattern, flags), group, check)
    for kind, pattern, flags, group, check in [
        ("private_key",
         r"-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----(?:[\s\S]*?-----END "
         r"(?P=label)-----|(?:\r?\n(?:[A-Za-z0-9+/=]+|[A-Za-z-]+: .*))*)", 0, 0, None),
        ("gitlab_token",
         r"(?<![\w-])(?:gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|tst|wt|sat)-"
         r"[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*|GR1348941[A-Za-z0-9_-]{20,})", 0, 0, None),
        ("github_token",
         r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})", 0, 0, None),
        ("anthropic_key", r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,}", 0, 0, None),
        ("openai_key",
         r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",
         0, 0, None),
        ("stripe_key", r"(?<![\w-])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", 0, 0, None),
        ("slack_token", r"(?<![\w-])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}", 0, 0, None),
        ("slack_webhook",
         r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+", 0, 0, None),
        ("aws_access_key", r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])", 0, 0, None),
        ("google_api_key", r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])", 0, 0, None),
        ("huggingface_token", r"(?<![\w-])hf_[A-Za-z0-9]{30,}", 0, 0, None),
        ("npm_token", r"(?<![\w-])npm_[A-Za-z0-9]{36}", 0, 0, None),
        ("pypi_token", r"(?<![\w-])pypi-AgE[A-Za-z0-9_-]{50,}", 0, 0, None),
        ("jwt", r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
         0, 0, None),
        ("bearer",
         r"(?:\b[Aa]uthorization:\s*(?:Bearer|Basic|Token|token|Bot)\s+|\bBearer\s+)"
         r"(?P<secret>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{8,}=*)", 0, "secret", None),
        ("url_password",
         r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:(?P<secret>[^\s@/]+)@(?=[\w\[])",
         0, "secret", lambda m: not m.group("secret").startswith("[REDACTED")),
        ("password", _assignment(_PASSWORD_KEY), re.I, "secret", _assignment_ok),
        ("secret", _assignment(_SECRET_KEY), re.I, "secret", _assignment_ok),
        ("email",
         r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
         0, 0, _email_ok),
    ]
)


def find_secrets(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Secrets and personal data in a text as (kind, (start, end)), in order, not overlapping."""
    found: list[tuple[int, int, int, str]] = []
    for rank, rule in enumerate(SECRET_RULES):
        for match in rule.pattern.finditer(text or ""):
            if rule.check is not None and not rule.check(match):
                continue
            start, end = match.span(rule.group)
            if end > start and not text.startswith("[REDACTED:", start):
                found.append((start, -end, rank, rule.kind))
    found.sort()
    spans: list[tuple[str, tuple[int, int]]] = []
    for start, negative_end, _, kind in found:
        if spans and start < spans[-1][1][1]:
            continue  # inside a longer or earlier secret
        spans.append((kind, (start, -negative_end)))
    return spans


def mask_secrets(text: str) -> str:
    """Replace tokens, keys, passwords and email addresses with "[REDACTED:<kind>]"."""
    if not text:
        return text
    parts: list[str] = []
    last = 0
    for kind, (start, end) in find_secrets(text):
        parts += [text[last:start], f"[REDACTED:{kind}]"]
        last = end
    return "".join(parts) + text[last:]
