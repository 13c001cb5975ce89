"""Fake secrets in the shapes real ones have: right prefixes, lengths and checksums, random bodies.

Each kind makes (snippet, secret) from a random generator: the snippet is how such a secret is
written in a reply, a doc page, code or a ticket; the secret is the part that must never leave
the machine. Nothing here is a real credential.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = B62 + "+/"


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, n: int, alphabet: str = B62) -> str:
    """Random characters with at least one digit, one upper- and one lower-case letter."""
    body = list(_s(rng, alphabet, n - 3)) + [rng.choice(string.digits),
                                             rng.choice(string.ascii_uppercase),
                                             rng.choice(string.ascii_lowercase)]
    rng.shuffle(body)
    return "".join(body)


def _password(rng: random.Random) -> str:
    return _mixed(rng, rng.randint(10, 16), B62 + "!#%^*_")


def luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits + "0")):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "55", "2221"])
    body = prefix + _s(rng, string.digits, 15 - len(prefix))
    number = body + luhn_digit(body)
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    bban = _s(rng, string.digits, 18)
    moved = bban + "1314" + "00"  # D=13, E=14, check digits 00
    check = 98 - int(moved) % 97
    value = f"DE{check:02d}{bban}"
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


def _pem(rng: random.Random, label: str) -> tuple[str, str]:
    lines = [_s(rng, B64, 64) for _ in range(4)] + [_s(rng, B64, 20) + "=="]
    block = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
    return block, lines[1]


def _pgp(rng: random.Random) -> tuple[str, str]:
    lines = [_s(rng, B64, 64) for _ in range(3)]
    block = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n" + "\n".join(lines)
             + f"\n={_s(rng, B64, 4)}\n-----END PGP PRIVATE KEY BLOCK-----")
    return block, lines[0]


def _gcp(rng: random.Random) -> tuple[str, str]:
    line = _s(rng, B64, 64)
    key = f"-----BEGIN PRIVATE KEY-----\n{line}\n{_s(rng, B64, 40)}==\n-----END PRIVATE KEY-----\n"
    doc = {"type": "service_account", "project_id": "acme-prod",
           "private_key_id": _s(rng, HEX, 40), "private_key": key,
           "client_email": "deployer@acme-prod.iam.gserviceaccount.com"}
    return json.dumps(doc, indent=2), line


def _jwt(rng: random.Random) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return (f"{part({'alg': 'HS256', 'typ': 'JWT'})}."
            f"{part({'sub': _s(rng, string.digits, 8), 'name': 'Bo'})}.{_s(rng, B62 + '_-', 43)}")


def _secret_only(make: Callable[[random.Random], str], template: str = "{}"):
    def kind(rng: random.Random) -> tuple[str, str]:
        secret = make(rng)
        return template.format(secret), secret
    return kind


def _with(template: str, make: Callable[[random.Random], str]):
    return _secret_only(make, template)


KINDS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "gitlab_pat": _with("curl --header 'PRIVATE-TOKEN: {}' https://gitlab.example.com/api/v4",
                        lambda r: "glpat-" + _mixed(r, 20, B62 + "_-")),
    "gitlab_deploy_token": _with("deploy token {} works", lambda r: "gldt-" + _mixed(r, 20)),
    "gitlab_runner_token": _with("  token = \"{}\"", lambda r: "glrt-" + _mixed(r, 20)),
    "github_classic": _with("GITHUB_TOKEN={}", lambda r: "ghp_" + _mixed(r, 36)),
    "github_oauth": _with("oauth token {} for the app", lambda r: "gho_" + _mixed(r, 36)),
    "github_fine_grained": _with("token: {}", lambda r: f"github_pat_11{_mixed(r, 20)}_"
                                 f"{_mixed(r, 59)}"),
    "openai_key": _with("key is {}.", lambda r: "sk-" + _mixed(r, 48)),
    "openai_project_key": _with("OPENAI_API_KEY={} in .env",
                                lambda r: "sk-proj-" + _mixed(r, 56, B62 + "_-")),
    "anthropic_key": _with("ANTHROPIC_API_KEY={}",
                           lambda r: "sk-ant-api03-" + _mixed(r, 93, B62 + "_-")),
    "slack_bot_token": _with("SLACK_BOT_TOKEN: {}", lambda r: f"xoxb-{_s(r, string.digits, 12)}-"
                             f"{_s(r, string.digits, 13)}-{_mixed(r, 24)}"),
    "slack_user_token": _with("user token {}", lambda r: f"xoxp-{_s(r, string.digits, 12)}-"
                              f"{_s(r, string.digits, 12)}-{_s(r, HEX, 32)}"),
    "slack_app_token": _with("SLACK_APP_TOKEN={}", lambda r: f"xapp-1-A{_s(r, B62.upper(), 10)}-"
                             f"{_s(r, string.digits, 13)}-{_s(r, HEX, 64)}"),
    "slack_webhook": _with("posting to {} now", lambda r: "https://hooks.slack.com/services/T"
                           f"{_s(r, string.ascii_uppercase, 8)}/B{_s(r, string.ascii_uppercase, 8)}"
                           f"/{_mixed(r, 24)}"),
    "aws_access_key_id": _with("aws_access_key_id = {}",
                               lambda r: "AKIA" + _s(r, string.ascii_uppercase + "234567", 16)),
    "aws_secret_access_key": _with("aws_secret_access_key = {}", lambda r: _mixed(r, 40, B64)),
    "gcp_service_account": _gcp,
    "google_api_key": _with("maps key {} in the page", lambda r: "AIza" + _mixed(r, 35)),
    "stripe_secret_key": _with("Stripe.api_key = '{}'", lambda r: "sk_live_" + _mixed(r, 24)),
    "stripe_webhook_secret": _with("STRIPE_WEBHOOK_SECRET={}", lambda r: "whsec_" + _mixed(r, 32)),
    "twilio_api_key": _with("twilio key {} here", lambda r: "SK" + _s(r, HEX, 32)),
    "sendgrid_key": _with("SENDGRID_API_KEY={}",
                          lambda r: f"SG.{_mixed(r, 22)}.{_mixed(r, 43, B62 + '_-')}"),
    "npm_token": _with("//registry.npmjs.org/:_authToken={}", lambda r: "npm_" + _mixed(r, 36)),
    "pypi_token": _with("password = {}",
                        lambda r: "pypi-AgEIcHlwaS5vcmc" + _mixed(r, 70, B62 + "_-")),
    "docker_hub_token": _with("docker login -u acme -p {}", lambda r: "dckr_pat_" + _mixed(r, 27)),
    "docker_config_auth": _with('{{"auths": {{"registry.example.com": {{"auth": "{}"}}}}}}',
                                lambda r: base64.b64encode(f"ci:{_password(r)}".encode())
                                .decode()),
    "jwt": _with("cookie session={} expired", _jwt),
    "rsa_private_key": lambda r: _pem(r, "RSA PRIVATE KEY"),
    "ec_private_key": lambda r: _pem(r, "EC PRIVATE KEY"),
    "openssh_private_key": lambda r: _pem(r, "OPENSSH PRIVATE KEY"),
    "pgp_private_key": _pgp,
    "url_password": _with("DATABASE_URL=postgres://app:{}@db.internal:5432/prod", _password),
    "mongodb_dsn": _with("mongodb+srv://svc:{}@cluster0.ab1cd.mongodb.net/app", _password),
    "env_password": _with("DB_PASSWORD={}", _password),
    "bearer_header": _with("-H 'Authorization: Bearer {}'", lambda r: _mixed(r, 40)),
    "basic_auth_header": _with("Authorization: Basic {}", lambda r: base64.b64encode(
        f"admin:{_password(r)}".encode()).decode()),
    "email": _with("Contact me at {} for access.",
                   lambda r: f"{_s(r, string.ascii_lowercase, 6)}."
                   f"{_s(r, string.ascii_lowercase, 5)}@{_s(r, string.ascii_lowercase, 7)}"
                   ".example.org"),
    "mysql_p": _with("mysql -h db -u root -p{} shop", _password),
    "mysql_password_option": _with("mysqldump --user=app --password={} shop", _password),
    "azure_storage_key": _with("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};"
                               "EndpointSuffix=core.windows.net", lambda r: _mixed(r, 86, B64)
                               + "=="),
    "azure_sas_token": _with("https://acme.blob.core.windows.net/logs/a.txt?sv=2022-11-02&ss=b"
                             "&sp=r&se=2026-01-01T00:00:00Z&sig={}",
                             lambda r: _mixed(r, 43, B62) + "%3D"),
    "escaped_json_api_key": _with('cfg = "{{\\"api_key\\": \\"{}\\", \\"region\\": \\"eu\\"}}"',
                                  lambda r: _mixed(r, 32)),
    "yaml_password": _with('  password: "{}"', _password),
    "phone_international": _with("call me on {} tomorrow", lambda r:
                                 f"+44 20 7946 {_s(r, string.digits, 4)}"),
    "phone_national": _with("my number is {}", lambda r: f"(415) 555-{_s(r, string.digits, 4)}"),
    "card_number": _with("charged card {} twice", card),
    "iban": _with("refund to IBAN {} please", iban),
    "huggingface_token": _with("HF_TOKEN={}", lambda r: "hf_" + _mixed(r, 34)),
    "redis_password": _with("redis-cli -h cache -a {} ping", _password),
    "sentry_dsn": _with("SENTRY_DSN=https://{}@o12345.ingest.sentry.io/678",
                        lambda r: _s(r, HEX, 32)),
}
