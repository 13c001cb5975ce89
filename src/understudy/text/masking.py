"""Secrets and personal data found in text, and masking them before text leaves the machine.

`mask_secrets` is the one masking function. Every rule is linear in its input: repetitions are
possessive or bounded, and no two quantifiers compete for the same characters, so a hostile
text (megabytes of PEM headers, of `password=`, of digits) costs one pass per rule. A rule runs
only when one of its needles (plain substrings) occurs in the text, so ordinary text pays for a
handful of `in` tests rather than every pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import methodcaller

from .pii import aws_secret_ok, card_ok, iban_ok, phone_ok

Check = Callable[[re.Match[str]], bool]


@dataclass(frozen=True)
class SecretRule:
    """One kind of secret: a pattern, the group to mask, an optional check of a match, and the
    lower-case substrings of which one must occur in a text for the rule to run."""

    kind: str
    pattern: re.Pattern[str]
    group: str | int = 0
    check: Check | None = None
    needles: tuple[str, ...] = ()
    # a character that may not come right before a match; checked here rather than by a
    # lookbehind in the pattern, which would cost sre its fast scan for the first literal
    not_after: re.Pattern[str] | None = None


_PLACEHOLDER_VALUE = re.compile(
    # variables and templates (`${DB_PASS}`, `<your-token>`, `{{ secret }}`, `%(pw)s`, `%PW%`,
    # `(none)`, `****`), not a password that merely starts with one of those characters
    r"^(?:\$[{(]?[A-Za-z_]|<[^>\s]*+>?$|<[A-Za-z_-]|\{|%\([A-Za-z_]|%[A-Za-z_]\w*+%$"
    r"|\[|\([A-Za-z _-]*+\)?$|\*++$|\.\.\.|x{3,}$|null$|none$|nil$|true$|false$|undefined$"
    r"|required$|optional$|string$|yes$|no$|redacted$|hidden$|masked$|secret$|password$|token$"
    r"|your[_-]|my[_-]|example|placeholder|env\b|os\.|process\.|settings\.|config\.|self\.)",
    re.I,
)
_FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "js", "ts", "css", "json", "yml",
              "yaml", "py", "rb", "go", "txt", "log", "md", "lock", "gz", "zip", "html"}
_VARIABLE = re.compile(r"[a-z_.]+")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[A-Za-z]")
_SSH_REMOTE = re.compile(r":[^\s]")
_SPACE = re.compile(r"\s")
_LABEL_KIND = re.compile(r"[a-z_]*")


def _assignment_ok(match: re.Match[str]) -> bool:
    """Whether a `key = value` match holds a real value rather than code or a placeholder."""
    value, quoted, op = match.group("secret", "quote", "op")
    if len(value) < 3 or _PLACEHOLDER_VALUE.match(value) or _in_label(match):
        return False
    if quoted:
        return True
    if "=" in op:
        key = _whole_key(match).lower().strip("'\"[]-")
        # `token=token`, `api_key=settings.api_key`: a variable, not a value
        return not (_VARIABLE.fullmatch(value) and (
            "_" in value or "." in value or value.lower() == key))
    text, end = match.string, match.end()
    following = text[end:end + 1]
    ends_value = following in ("", "\n", ",", ";", "}", ")", "\r") or text.startswith(" #", end)
    return ends_value or bool(_HAS_DIGIT.search(value) and _HAS_LETTER.search(value))


def _in_label(match: re.Match[str]) -> bool:
    """Whether the key is the kind in a mask's own label (`[REDACTED:private_key]: ...`)."""
    text, start = match.string, match.start("key")
    label = text.rfind(_REDACTED, start - 30 if start > 30 else 0, start)
    return label >= 0 and _LABEL_KIND.fullmatch(text, label + len(_REDACTED), start) is not None


def _whole_key(match: re.Match[str]) -> str:
    """The key of an assignment match with the part of its word before the keyword."""
    text, start = match.string, match.start("key")
    first = start
    while first > start - 100 and first and (text[first - 1].isalnum() or text[first - 1] in "_.-"):
        first -= 1
    return text[first:match.end("key")]


def _email_ok(match: re.Match[str]) -> bool:
    """An email address, not an SSH remote (git@host:group), a URL user or a file@2x.png."""
    tld = match.group(0).rsplit(".", 1)[-1]
    after = match.string[match.end():match.end() + 2]
    if len(tld) < 2 or not tld.isascii() or not tld.isalpha() or after[:1] == "_":
        return False
    text, start = match.string, match.start()
    scheme = text.rfind("://", max(0, start - 300), start)
    if scheme >= 0 and not _SPACE.search(text, scheme, start):
        return False  # the user of a URL
    return not _SSH_REMOTE.match(after) and tld.lower() not in _FILE_TLDS


def _after_client(client: re.Pattern[str]) -> Check:
    """The check of a command-line password rule: `client` earlier on the same line (within 300
    characters), and a value that is not a placeholder."""
    def check(match: re.Match[str]) -> bool:
        text, start = match.string, match.start()
        low = start - 300 if start > 300 else 0
        if client.search(text, text.rfind("\n", low, start) + 1 or low, start) is None:
            return False
        value = match.group("secret").strip("'\"")
        return len(value) >= 3 and not _PLACEHOLDER_VALUE.match(value)

    return check


def _has_digit(match: re.Match[str]) -> bool:
    """A token with a digit in it: `sk-learn-style` and `Bearer authentication` are words.

    Checked here rather than by a lookahead, which would rescan a long run from every start."""
    return bool(_HAS_DIGIT.search(match.group(match.lastindex or 0)))


def _not_redacted(match: re.Match[str]) -> bool:
    return "[REDACTED" not in match.group(0)


# A key is found by its keyword (sre scans fast for a pattern's first characters); the rest
# of the key's word, before the keyword, is read back only when a check needs it.
# Case is ignored after the first letter only: a pattern under re.I loses sre's fast scan.
_PASSWORD_KEY = r"[Pp](?i:assword|asswd|wd|assphrase)(?i:[_-]?(?:hash|digest))?"
_SECRET_KEY = (r"(?:[Ss](?i:ecret(?:[_-]?key)?)|[Tt](?i:oken)|[Aa](?i:pi[_-]?key|pikey"
               r"|ccess[_-]?key|uth[_-]?token)|[Pp](?i:rivate[_-]?key(?:[_-]?id)?)"
               r"|[Cc](?i:lient[_-]?secret))(?i:[_-]?(?:base|value))?")
_PASSWORD_NEEDLES = ("pass", "pwd")
_SECRET_NEEDLES = ("secret", "token", "key")


def _assignment(key: str) -> str:
    """A `key = value`, `key: value`, `"key": "value"` or escaped `\\"key\\": \\"value\\"`
    assignment, the value as `secret`."""
    return (rf"(?P<key>{key})(?P<op>(?:\\{{0,3}}['\"]|\]){{0,3}}[ \t]*+(?:=>|:=|=|:)[ \t]*+)"
            r"(?P<quote>\\{0,3}['\"])?"
            r"(?P<secret>(?(quote)(?:[^'\"\\\n]|\\++(?!['\"]))++|[^\s'\",;}\)&\\]++))"
            r"(?(quote)(?:\\{0,3}['\"])?)")


# a line break, or one escaped in a string literal (once or twice: JSON inside Python code)
_PEM_BREAK = r"(?:\r?\n|\\{1,3}(?:r\\{1,3})?n)"
_PRIVATE_KEY = (
    r"-----BEGIN (?P<label>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----(?:"
    # the key on one line, its lines joined by spaces
    r"[ \t]++[A-Za-z0-9+/= \t]*+-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    # or line by line (real or escaped line breaks): base64, headers, one blank line at most
    rf"|(?:{_PEM_BREAK}(?:[ \t]*+{_PEM_BREAK})?(?:[A-Za-z0-9+/=]++|[A-Za-z-]++: [^\n\\]*+)"
    rf"(?=\r?\n|\\|$|[\"'`]))*+(?:{_PEM_BREAK}-----END [A-Z0-9 ]{{0,40}}PRIVATE KEY"
    r"(?: BLOCK)?-----)?)"
)
_B = "\x00"  # marks a rule whose match starts a word (no [\w-] before it): see not_after
_E = r"(?![\w-])"  # and ends one
_NO_MORE_DIGITS = r"(?![\w]|[.:/,-]\d)"  # not a version, date, time or longer number
_WORD_BEFORE = re.compile(r"[\w-]")
_CLI_VALUE = r"(?P<secret>'[^'\n]++'|\"[^\"\n]++\"|[^\s'\"-][^\s'\"]++)"

# (kind, needles, pattern, flags, group, check); earlier rules win a tie between two matches.
_RULES: list[tuple[str, tuple[str, ...], str, int, str | int, Check | None]] = [
    ("private_key", ("private key",), _PRIVATE_KEY, 0, 0, None),
    ("gitlab_token", ("gl", "gr1348941"),
     _B + r"(?:gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|tst|wt|cd)-"
     r"[A-Za-z0-9_-]{20,}+(?:\.[A-Za-z0-9_-]++)*+|GR1348941[A-Za-z0-9_-]{20,}+)", 0, 0, None),
    ("grafana_token", ("glsa_", "glc_"),
     _B + r"(?:glsa_[A-Za-z0-9]{32}_[0-9a-fA-F]{8}|glc_[A-Za-z0-9+/]{32,}+={0,2})", 0, 0, None),
    ("github_token", ("gh", "github_pat_"),
     _B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}+|github_pat_[A-Za-z0-9_]{22,}+)", 0, 0, None),
    ("anthropic_key", ("sk-ant-",), _B + r"sk-ant-[A-Za-z0-9_-]{20,}+", 0, 0, None),
    ("openai_key", ("sk-",),
     _B + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}+", 0, 0, _has_digit),
    ("stripe_key", ("_live_", "_test_", "whsec_"),
     _B + r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}+|whsec_[A-Za-z0-9]{24,}+)", 0, 0, None),
    ("slack_webhook", ("hooks.slack.com",),
     r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]++/[A-Za-z0-9/]++",
     0, 0, None),
    ("slack_token", ("xox", "xapp-"),
     _B + r"(?:xox[abposre]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{10,}+", 0, 0, None),
    ("discord_webhook", ("discord",),
     r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d++/[\w-]++", 0, 0, None),
    ("telegram_token", (":aa",), r"(?<![\w:])\d{8,10}:AA[\w-]{33}" + _E, 0, 0, None),
    ("aws_access_key", ("akia", "asia", "agpa", "aida", "aroa", "anpa"),
     r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Za-z0-9])", 0, 0,
     None),
    ("aws_secret_key", ("aws", "akia", "asia"),
     r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", 0, 0, aws_secret_ok),
    ("google_api_key", ("aiza",), _B + r"AIza[0-9A-Za-z_-]{35}" + _E, 0, 0, None),
    ("google_oauth", ("gocspx-", "ya29.", "1//0"),
     _B + r"(?:GOCSPX-[\w-]{24,}+|ya29\.[\w-]{20,}+|1//0[\w-]{30,}+)", 0, 0, None),
    ("azure_storage_key", ("accountkey", "sharedaccesskey"),
     r"(?:[Aa](?i:ccountKey)|[Ss](?i:haredAccessKey))=(?P<secret>[A-Za-z0-9+/]{20,}+={0,2})",
     0, "secret", None),
    ("azure_sas", ("sig=",), r"[?&;]sig=(?P<secret>[A-Za-z0-9%+/=_-]{16,}+)", 0, "secret",
     None),
    ("azure_client_secret", ("q~",), _B + r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}" + _E,
     0, 0, None),
    ("huggingface_token", ("hf_",), _B + r"hf_[A-Za-z0-9]{30,}+", 0, 0, None),
    ("npm_token", ("npm_",), _B + r"npm_[A-Za-z0-9]{36}" + _E, 0, 0, None),
    ("pypi_token", ("pypi-",), _B + r"pypi-AgE[A-Za-z0-9_-]{50,}+", 0, 0, None),
    ("docker_token", ("dckr_",), _B + r"dckr_(?:pat|oat)_[\w-]{20,}+", 0, 0, None),
    ("docker_auth", ('auth',),
     r"\\{0,3}\"auth\\{0,3}\"[ \t]*+:[ \t]*+\\{0,3}\"(?P<secret>[A-Za-z0-9+/]{8,}+={0,2})\\{0,3}\"",
     0, "secret", None),
    ("sendgrid_key", ("sg.",), _B + r"SG\.[\w-]{22}\.[\w-]{43}" + _E, 0, 0, None),
    ("twilio_key", ("ac", "sk"), r"(?<![\w-])(?:AC|SK)[0-9a-f]{32}" + _E, 0, 0, None),
    ("mailgun_key", ("key-",), _B + r"key-[0-9a-f]{32}" + _E, 0, 0, None),
    ("shopify_token", ("shp",), _B + r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}" + _E, 0, 0, None),
    ("digitalocean_token", ("_v1_",), _B + r"do[opr]_v1_[a-f0-9]{64}" + _E, 0, 0, None),
    ("atlassian_token", ("atatt",), _B + r"ATATT3[A-Za-z0-9_=-]{50,}+", 0, 0, None),
    ("databricks_token", ("dapi",), _B + r"dapi[0-9a-f]{32}(?:-\d)?" + _E, 0, 0, None),
    ("square_token", ("sq0", "eaaa"),
     _B + r"(?:sq0(?:atp|csp)-[\w-]{22,}+|EAAA[\w-]{60,}+)", 0, 0, None),
    ("age_key", ("age-secret-key-",), r"AGE-SECRET-KEY-1[0-9A-Z]{58}", 0, 0, None),
    ("vault_token", ("hvs.", "hvb.", "hvr."), _B + r"hv[sbr]\.[\w-]{24,}+", 0, 0, None),
    ("mapbox_token", ("sk.eyj",), _B + r"sk\.eyJ[\w.-]{20,}+", 0, 0, None),
    ("doppler_token", ("dp.",), _B + r"dp\.(?:st|ct|sa|scim|audit)\.[\w.-]{40,}+", 0, 0, None),
    ("sentry_token", ("sntry",), _B + r"sntry[su]_[\w=+/]{40,}+", 0, 0, None),
    ("sentry_dsn", ("sentry", "ingest"),
     r"https?://(?P<secret>[0-9a-f]{32})@[\w.-]++/\d++", 0, "secret", None),
    ("linear_key", ("lin_api_",), _B + r"lin_api_[A-Za-z0-9]{40}" + _E, 0, 0, None),
    ("notion_token", ("ntn_", "secret_"),
     _B + r"(?:ntn_[A-Za-z0-9]{40,}+|secret_[A-Za-z0-9]{43})" + _E, 0, 0, None),
    ("postman_key", ("pmak-",), _B + r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}" + _E, 0, 0, None),
    ("figma_token", ("figd_",), _B + r"figd_[\w-]{40,}+", 0, 0, None),
    ("newrelic_key", ("nrak-",), _B + r"NRAK-[A-Z0-9]{27}" + _E, 0, 0, None),
    ("pulumi_token", ("pul-",), _B + r"pul-[a-f0-9]{40}" + _E, 0, 0, None),
    ("jwt", ("eyj",),
     r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+", 0, 0, None),
    # a header names the scheme, so the credential needs no digit; a bare `Bearer` in prose does
    ("bearer", ("authorization",),
     _B + r"[Aa](?i:uthorization)\\?['\"]?[ \t]*+[:=][ \t]*+\\?['\"]?[ \t]*+"
     r"(?:Bearer|Basic|Token|token|Bot|Digest|bearer|basic)[ \t]++"
     r"(?P<secret>[A-Za-z0-9._~+/-]{8,}+=*+)", 0, "secret", None),
    ("bearer", ("bearer",),
     _B + r"Bearer[ \t]++(?P<secret>[A-Za-z0-9._~+/-]{8,}+=*+)", 0, "secret", _has_digit),
    ("url_password", ("://",),
     r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}+://[^\s:/@]*+:(?P<secret>[^\s@/]++)@(?=[\w\[])",
     0, "secret", _not_redacted),
    # `-pSECRET` of a MySQL client, `-p SECRET` of sshpass, `-a SECRET` of redis-cli, with the
    # command earlier on the same line (`mysql -p NAME` asks for the password; NAME is a database)
    ("password", ("mysql", "mariadb"), r"(?<!\S)-p" + _CLI_VALUE, 0, "secret",
     _after_client(re.compile(r"mysql|mariadb"))),
    ("password", ("sshpass",), r"(?<!\S)-p[ \t]++" + _CLI_VALUE, 0, "secret",
     _after_client(re.compile(r"sshpass"))),
    ("password", ("redis-cli",), r"(?<!\S)-a[ \t]*+" + _CLI_VALUE, 0, "secret",
     _after_client(re.compile(r"redis-cli"))),
    ("password", _PASSWORD_NEEDLES, _assignment(_PASSWORD_KEY), 0, "secret", _assignment_ok),
    ("password", ("--password",),
     r"(?<!\S)--password[ \t]++(?P<secret>[^\s'\"-][^\s'\"]{2,}+)", 0, "secret",
     lambda m: not _PLACEHOLDER_VALUE.match(m.group("secret"))),
    ("secret", _SECRET_NEEDLES, _assignment(_SECRET_KEY), 0, "secret", _assignment_ok),
    ("email", ("@",),
     r"[A-Za-z0-9._%+-](?<![\w.%+-].)[A-Za-z0-9._%+-]*+@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++", 0, 0,
     _email_ok),
    ("iban", ("",),
     r"[A-Z](?<![A-Za-z0-9].)[A-Z]\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}+(?:[ ]?[A-Z0-9]{1,3})?+"
     r"(?![A-Za-z0-9])", 0, 0, iban_ok),
    ("card_number", ("",),
     # printed as one run, in fours, or as American Express prints it (4-6-5)
     r"[2-6](?<![\w.+/:-].)(?<!\d[ -].)(?:\d{12,18}+|\d{3}(?P<cs>[ -])\d{4}(?P=cs)\d{4}(?P=cs)\d{4}"
     r"(?:(?P=cs)\d{3})?+|(?<=3)[47]\d\d(?P<as>[ -])\d{6}(?P=as)\d{4,5}+)"
     r"(?![\w]|[.,:/-]\d)", 0, 0, card_ok),
    ("phone", ("+",),
     r"\+(?<![\w+].)[1-9]\d{0,3}+(?:[ .-]?\(\d{1,4}+\)[ .-]?|[ .-])?\d{1,14}+"
     r"(?:(?:[ .-]?\(\d{1,4}+\)[ .-]?|[ .-])\d{1,14}+)*+" + _NO_MORE_DIGITS, 0, 0, phone_ok),
    ("phone", ("",),
     r"[(2-9](?<![\w.+/:@#=-].)(?<!\d[ /.-].)(?:(?<=\()\d{3}\)[ ]?\d{3}[ .-]\d{4}"
     r"|(?<=[2-9])\d{2}(?P<sep>[ .-])[2-9]\d{2}(?P=sep)\d{4})" + _NO_MORE_DIGITS, 0, 0, phone_ok),
    ("phone", ("",),
     r"0(?<![\w.+/:@#=-].)(?<!\d[ /.-].)[1-9]\d{0,3}+(?:[ /-]\d{2,8}+){1,4}+" + _NO_MORE_DIGITS,
     0, 0, phone_ok),
]

SECRET_RULES: tuple[SecretRule, ...] = tuple(
    SecretRule(kind, re.compile(pattern.removeprefix(_B), flags), group, check, needles,
               _WORD_BEFORE if pattern.startswith(_B) else None)
    for kind, needles, pattern, flags, group, check in _RULES
)
_REDACTED = "[REDACTED:"


def _secret_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the secrets in a non-empty text, in order, not overlapping."""
    lower = text.lower()
    present: dict[str, bool] = {}
    marked = _REDACTED in text
    per_rule: list[list[tuple[int, int, str]]] = []
    for rule in SECRET_RULES:
        for needle in rule.needles:
            hit = present.get(needle)
            if hit is None:
                hit = present[needle] = needle in lower
            if hit:
                break
        else:
            if rule.needles:
                continue
        matches = rule.pattern.finditer(text)
        not_after, check, group, kind = rule.not_after, rule.check, rule.group, rule.kind
        if not_after is not None:
            matches = (match for match in matches
                       if not (match.start() and not_after.match(text, match.start() - 1)))
        if check is not None:
            matches = filter(check, matches)
        # (a whole match is never empty, nor a mask: it starts with `[`)
        spans = [(start, end, kind) for start, end in map(methodcaller("span", group), matches)
                 if group == 0
                 or end > start and not (marked and text.startswith(_REDACTED, start))]
        if spans:
            per_rule.append(spans)
    if len(per_rule) < 2:  # one rule's spans are in order and apart already
        return per_rule[0] if per_rule else []
    # earlier rules win a tie between two matches that start at the same place
    found = sorted((start, -end, rank, kind) for rank, spans in enumerate(per_rule)
                   for start, end, kind in spans)
    kept: list[tuple[int, int, str]] = []
    last = 0
    for start, negative_end, _, kind in found:
        if start < last:
            continue  # inside a longer or earlier secret
        last = -negative_end
        kept.append((start, last, kind))
    return kept


def find_secrets(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Secrets and personal data in a text as (kind, (start, end)), in order, not overlapping."""
    if not text:
        return []
    return [(kind, (start, end)) for start, end, kind in _secret_spans(text)]


def _is_public(address: str, public: frozenset[str]) -> bool:
    """Whether an email address is one the team publishes: listed whole, or its `@domain`."""
    address = address.lower()
    return address in public or "@" + address.rpartition("@")[2] in public


_LABELS = {rule.kind: f"{_REDACTED}{rule.kind}]" for rule in SECRET_RULES}


def mask_secrets(text: str, public_contacts: Iterable[str] = ()) -> str:
    """Replace tokens, keys, passwords and personal data with "[REDACTED:<kind>]".

    `public_contacts` lists the email addresses (or `@domain`s) the team publishes, such as
    support@ or noreply@ senders: a draft may name them, so they are kept.
    """
    if not text:
        return text
    public = frozenset(c.strip().lower() for c in public_contacts if c and c.strip())
    parts: list[str] = []
    add = parts.append
    last = 0
    for start, end, kind in _secret_spans(text):
        if public and kind == "email" and _is_public(text[start:end], public):
            continue
        add(text[last:start])
        add(_LABELS[kind])
        last = end
    add(text[last:])
    return "".join(parts)


# Credentials a URL carries: its user information, and query parameters that hold a secret.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}+://)(?P<info>[^\s/@?#]++)@")
_URL_TOKEN_PARAM = re.compile(
    r"(?P<name>[?&;](?:private[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token|token"
    r"|api[_-]?key|apikey|key|sig|signature|secret|client[_-]?secret|password|passwd|auth"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token|code)=)(?P<value>[^\s&#\"'<>]++)",
    re.I,
)
_PLAIN_USER = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")


def redact_url_credentials(text: str) -> str:
    """`text` with the credentials of every URL in it replaced: a password or token in the
    user part (`user:pass@`, `TOKEN@`) and token query parameters (`private_token=`, `key=`,
    `sig=`, ...). A plain user name (`git@`, `oauth2:...@` keeps `oauth2`) stays readable."""
    if not text or ("@" not in text and "=" not in text):
        return text

    def userinfo(match: re.Match[str]) -> str:
        info = match.group("info")
        user, colon, _ = info.partition(":")
        if colon:
            kept = user if _PLAIN_USER.fullmatch(user) and len(user) < 20 else "[REDACTED]"
            return f"{match.group('scheme')}{kept}:[REDACTED]@"
        if _PLAIN_USER.fullmatch(info) and len(info) < 20 and not find_secrets(info):
            return match.group(0)
        return f"{match.group('scheme')}[REDACTED]@"

    text = _URL_USERINFO.sub(userinfo, text)
    return _URL_TOKEN_PARAM.sub(lambda m: f"{m.group('name')}[REDACTED]", text)


def redact_message(text: str) -> str:
    """A message for a person or a log: credentials in URLs redacted, secrets masked."""
    return mask_secrets(redact_url_credentials(text))
