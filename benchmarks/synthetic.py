"""Deterministic synthetic GitLab-shaped support threads for the speed benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from understudy.records import Message, Thread
from understudy.text import markdown_to_text

PRODUCTS = ["acme/app", "acme/api", "acme/cli", "acme/agent", "acme/web", "acme/sdk-python",
            "acme/sdk-go", "acme/helm-chart", "acme/terraform-provider", "acme/mobile"]
COMPONENTS = [
    "login page", "single sign-on", "SAML integration", "LDAP sync", "webhook delivery",
    "CSV export", "PDF report", "billing dashboard", "invoice email", "API rate limiter",
    "search bar", "audit log", "user import", "password reset", "two-factor setup",
    "background worker", "scheduler", "file upload", "S3 storage backend", "Redis cache",
    "Postgres migration", "Helm chart", "Docker image", "Kubernetes operator", "CLI installer",
    "Python SDK", "Go SDK", "REST endpoint /v2/projects", "GraphQL query", "notification service",
    "Slack integration", "Jira importer", "GitHub mirror", "backup job", "restore command",
    "metrics exporter", "Prometheus endpoint", "Grafana dashboard", "OAuth token refresh",
    "mobile push notifications", "dark mode", "timezone settings", "locale switcher",
    "team permissions", "project archive", "bulk delete", "license check", "proxy settings",
    "TLS certificate", "DNS resolver", "email templates", "audit export", "retention policy",
]
SYMPTOMS = [
    "fails with a 500 error", "times out", "hangs forever", "returns an empty list",
    "shows the wrong date", "crashes on start", "is very slow", "loses the last change",
    "rejects valid input", "sends duplicate messages", "ignores the config file",
    "logs out every user", "uses too much memory", "returns 403 Forbidden", "breaks the layout",
    "stops after a few minutes", "reports a checksum mismatch", "cannot find the certificate",
    "writes garbled characters", "drops every other event", "leaks file handles",
]
TRIGGERS = [
    "after upgrading to {version}", "since {version}", "on {os}", "behind a corporate proxy",
    "with more than 10k records", "when the name contains unicode", "in the EU region",
    "after the nightly backup", "when two users edit at once", "with SSO enabled",
    "on the free plan", "in air-gapped installs", "when the disk is almost full",
    "right after a restart", "with Postgres {pg}", "on ARM machines", "inside Docker",
]
OSES = ["Ubuntu 22.04", "Debian 12", "RHEL 9", "macOS 14", "Windows Server 2022", "Alpine 3.19",
        "Amazon Linux 2023", "Windows 11"]
ERRORS = [
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    "psycopg2.errors.DeadlockDetected: deadlock detected",
    "ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer",
    "redis.exceptions.TimeoutError: Timeout reading from socket",
    "OSError: [Errno 24] Too many open files",
    "KeyError: 'tenant_id'",
    "ValueError: time data '2024-13-01' does not match format '%Y-%m-%d'",
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling PutObject",
    "java.lang.OutOfMemoryError: Java heap space",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 12",
    "requests.exceptions.ReadTimeout: HTTPSConnectionPool read timed out (read timeout=30)",
    "sqlalchemy.exc.IntegrityError: duplicate key value violates unique constraint",
    "Error: EACCES: permission denied, open '/var/lib/acme/cache/index.lock'",
]
OPENERS = [
    "Hi team,", "Hello,", "Hey folks,", "Good morning,", "Hi there,", "Dear support,", "",
]
CONTEXT = [
    "We run the self-managed edition with about {n} users.",
    "This started on {day} and happens on every attempt.",
    "Our staging environment works fine, only production is affected.",
    "We tried clearing the cache and restarting the service, without luck.",
    "It worked in {old} and we did not change anything else.",
    "The problem is intermittent: roughly one request in {k} fails.",
    "Several customers reported it this morning, so it is quite urgent for us.",
    "We deploy with the official {deploy} and the default values.",
    "I checked the documentation page about {component} but could not find anything.",
    "Rolling back is not an option because of the database migration.",
    "The logs do not show anything unusual apart from the line below.",
    "We are on the {plan} plan, in case that matters.",
]
ASKS = [
    "Is this a known issue, and is there a workaround?",
    "How can we fix this without downtime?",
    "Which setting controls this behaviour?",
    "Could you tell us what we are doing wrong?",
    "Is there a flag to turn this off until a fix is released?",
    "What information do you need from us to investigate?",
]
FIXES = [
    "This is a known issue in {version}; it is fixed in {next}. Upgrading is the cleanest fix.",
    "You can work around it by setting `{setting}: {value}` in `config.yml` and restarting.",
    "The {component} reads its limits from the environment: export `{env}={value}` and retry.",
    "Please run `acme doctor --fix` on the primary node; it rebuilds the stale lock files.",
    "This happens when the clock of the worker drifts; enable NTP on every node.",
    "Your proxy strips the `Authorization` header. Add the host to `NO_PROXY` and it will work.",
    "The certificate chain is incomplete. Append the intermediate certificate to the bundle.",
    "Increase `max_connections` on Postgres to at least {n}; the pool opens one per worker.",
    "Run `acme migrate --resume` to finish the interrupted migration, then restart the app.",
    "Set the file descriptor limit to 65536 (`ulimit -n 65536`, or LimitNOFILE in systemd).",
]
FOLLOW_UPS = [
    "Let us know if the problem persists after that.",
    "If it still fails, please attach the output of `acme support-bundle`.",
    "We have added a note about this to the upgrade guide.",
    "Thanks for the detailed report, it made this easy to track down.",
    "",
]
SETTINGS = ["worker.concurrency", "http.timeout", "cache.ttl", "auth.session_lifetime",
            "storage.multipart_threshold", "webhooks.retry_limit", "export.batch_size"]
ENV_VARS = ["ACME_TIMEOUT", "ACME_MAX_WORKERS", "ACME_CACHE_SIZE", "ACME_LOG_LEVEL"]
PEOPLE = ["alice", "bob", "carol", "dmitri", "eva", "farid", "grace", "hiro", "ines", "jonas"]
TEAM = ["support-ana", "support-ben", "support-chen", "support-dana"]
START = datetime(2021, 1, 1, tzinfo=UTC)


def _version(rng: random.Random) -> tuple[str, str]:
    major, minor, patch = rng.randint(1, 16), rng.randint(0, 12), rng.randint(0, 9)
    return f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1}"


def _fill(rng: random.Random, template: str, component: str) -> str:
    version, following = _version(rng)
    return template.format(
        version=version, next=following, old=_version(rng)[0], os=rng.choice(OSES),
        pg=rng.choice([12, 13, 14, 15, 16]), n=rng.choice([50, 200, 800, 3000, 12000]),
        day=rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]),
        k=rng.choice([5, 10, 20, 50]), deploy=rng.choice(["Helm chart", "Docker image", "RPM"]),
        component=component, plan=rng.choice(["Starter", "Premium", "Ultimate"]),
        setting=rng.choice(SETTINGS), value=rng.choice(["0", "120", "false", "4096"]),
        env=rng.choice(ENV_VARS),
    )


def _log(rng: random.Random) -> str:
    stamp = f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:12:44Z"
    lines = [f"{stamp} ERROR worker-{rng.randint(1, 8)} {rng.choice(ERRORS)}"]
    lines += [f'  File "/opt/acme/lib/{rng.choice(["jobs", "api", "sync"])}.py", line '
              f"{rng.randint(10, 900)}, in {rng.choice(['run', 'handle', 'flush'])}"
              for _ in range(rng.randint(1, 3))]
    return "```\n" + "\n".join(lines) + "\n```"


def question(rng: random.Random, component: str, symptom: str, trigger: str) -> str:
    """A customer's first message: a few sentences, sometimes with a short log."""
    sentences = [rng.choice(OPENERS), f"The {component} {symptom} {trigger}."]
    sentences += [_fill(rng, c, component) for c in rng.sample(CONTEXT, rng.randint(1, 4))]
    blocks = [" ".join(s for s in sentences if s)]
    if rng.random() < 0.35:
        blocks.append(_log(rng))
    blocks.append(rng.choice(ASKS))
    return "\n\n".join(blocks)


def make_thread(rng: random.Random, number: int) -> Thread:
    """One answered (or still open) GitLab-shaped thread."""
    project = rng.choice(PRODUCTS)
    component, symptom = rng.choice(COMPONENTS), rng.choice(SYMPTOMS)
    trigger = _fill(rng, rng.choice(TRIGGERS), component)
    created = START + timedelta(minutes=number * 7 + rng.randint(0, 6))
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (created + timedelta(hours=rng.randint(1, 48))).strftime("%Y-%m-%dT%H:%M:%SZ")
    author = rng.choice(PEOPLE)
    messages = [Message(f"{number}-0", author, question(rng, component, symptom, trigger), stamp,
                        kind="question")]
    if rng.random() < 0.2:
        messages.append(Message(f"{number}-1", "acme-bot", "added ~bug label", stamp,
                                kind="system", is_bot=True))
    answered = rng.random() < 0.92
    if answered:
        fix = " ".join([_fill(rng, rng.choice(FIXES), component), rng.choice(FOLLOW_UPS)])
        messages.append(Message(f"{number}-2", rng.choice(TEAM), fix.strip(), later,
                                kind="reply", is_team=True))
        if rng.random() < 0.3:
            messages.append(Message(f"{number}-3", author, "Thanks, that fixed it!", later,
                                    kind="reply"))
    return Thread(
        source="gitlab",
        external_id=f"{project}#{number}",
        url=f"https://gitlab.example.com/{project}/-/issues/{number}",
        title=f"{component[0].upper()}{component[1:]} {symptom} {trigger}",
        state="closed" if answered else "opened",
        created_at=stamp,
        updated_at=later,
        project=project,
        labels=rng.sample(["bug", "support", "customer", "p1", "p2", "regression"], 2),
        messages=messages,
    )


def threads(count: int, seed: int = 7, start: int = 1) -> Iterator[Thread]:
    """`count` threads numbered from `start`; the same seed always gives the same threads."""
    rng = random.Random(seed)
    for number in range(start, start + count):
        yield make_thread(rng, number)


def tickets(count: int, seed: int = 99) -> list[Thread]:
    """New unanswered tickets (not in the store) to draft answers for."""
    out = []
    for thread in threads(count, seed=seed, start=10_000_000):
        thread.messages = thread.messages[:1]
        thread.messages[0].text = markdown_to_text(thread.messages[0].body)  # as a sync sets it
        thread.state = "opened"
        out.append(thread)
    return out
