"""GitHub issues and their comments as threads, synced incrementally per repository."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededException

from ..config import Settings
from ..errors import ConfigError, InputError, SourceError, UnderstudyError
from ..records import Message, Thread
from .base import Source
from .gitlab import parse_since

DEFAULT_URL = "https://github.com"
DEFAULT_API = "https://api.github.com"
PER_PAGE = 100
TIMEOUT = 30
MAX_RATE_WAIT = 900  # seconds; a longer rate-limit reset fails the sync with a clear line
TEAM_ASSOCIATIONS = {"OWNER", "MEMBER", "COLLABORATOR"}

_ISSUE_PATH = re.compile(
    r"^/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)/issues/(?P<number>[0-9]{1,18})/?$"
)


@dataclass(frozen=True)
class Instance:
    """One GitHub (github.com or an Enterprise server): its web and API addresses and token."""

    url: str  # web, e.g. https://github.com
    api: str  # REST API, e.g. https://api.github.com or https://HOST/api/v3
    token: str | None

    def client(self, writes: bool = False, lazy: bool = False) -> Github:
        """A PyGithub client that waits out rate limits (Retry-After, reset time) up to a cap.

        For writes only rate-limit answers are retried: a 5xx may mean the comment landed.
        """
        statuses = [403, 429] if writes else [403, 429, *range(500, 600)]
        retry = GithubRetry(total=5, backoff_factor=0.5, status_forcelist=statuses,
                            max_rate_limit_wait=MAX_RATE_WAIT)
        auth = Auth.Token(self.token) if self.token else None
        return Github(auth=auth, base_url=self.api, timeout=TIMEOUT, per_page=PER_PAGE,
                      retry=retry, user_agent="understudy", seconds_between_requests=None,
                      seconds_between_writes=None, lazy=lazy)


@dataclass(frozen=True)
class IssueRef:
    """What a GitHub issue URL names."""

    base_url: str
    repo: str  # owner/name
    number: int


def web_and_api(url: str | None) -> tuple[str, str]:
    """GITHUB_URL (web or API address) as (web URL, API URL), github.com when unset."""
    url = (url or DEFAULT_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = f"https://{url}"
    host = urlsplit(url).netloc.lower()
    if host in ("github.com", "www.github.com", "api.github.com"):
        return DEFAULT_URL, DEFAULT_API
    if url.endswith("/api/v3"):
        return url[: -len("/api/v3")], url
    return url, f"{url}/api/v3"


def instance_for(
    settings: Settings, base_url: str | None = None, required: bool = True
) -> Instance:
    """The configured GitHub, or `base_url`'s; the token only ever goes to its own host."""
    web, api = web_and_api(settings.secret("github_url"))
    if base_url and _origin(base_url) != _origin(web):
        other_web, other_api = web_and_api(base_url)
        return Instance(other_web, other_api, None)
    token = settings.require_secret("github_token") if required else settings.secret(
        "github_token")
    return Instance(web, api, token)


def parse_issue_url(url: str) -> IssueRef | None:
    """The web address, owner/repo and number of a GitHub issue URL, else None."""
    try:
        parts = urlsplit(url.strip())
        host, _ = parts.hostname, parts.port  # the port too: 99999 is no port
    except ValueError:  # not a URL urllib can parse: not an issue URL
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    found = _ISSUE_PATH.match(parts.path)
    if not found:
        return None
    return IssueRef(f"{parts.scheme}://{parts.netloc}",
                    f"{found['owner']}/{found['repo']}", int(found["number"]))


@contextmanager
def github_errors(
    instance: Instance, what: str, error: type[UnderstudyError] = SourceError
) -> Iterator[None]:
    """Turn PyGithub and network failures into one line that names the fix."""
    try:
        yield
    except UnderstudyError:
        raise
    except RateLimitExceededException:
        raise error(f"GitHub at {instance.url} kept rate-limiting {what}: wait for the limit "
                    "to reset (see https://docs.github.com/rest/rate-limit), then retry") from None
    except GithubException as exc:
        failure = _http_error(instance, what, exc, error)
        failure.status = exc.status  # type: ignore[attr-defined]
        raise failure from None
    except requests.RequestException as exc:
        if isinstance(exc, requests.Timeout):
            problem = f"GitHub at {instance.api} did not answer within {TIMEOUT}s"
        elif "retries" in str(exc).lower():
            problem = f"GitHub at {instance.api} kept failing"
        else:
            problem = f"Cannot reach GitHub at {instance.api}"
        raise error(f"{problem} ({what}): check GITHUB_URL and your network") from None


def _http_error(
    instance: Instance, what: str, exc: GithubException, error: type[UnderstudyError]
) -> UnderstudyError:
    code = exc.status
    message = (exc.data or {}).get("message", "") if isinstance(exc.data, dict) else ""
    if code == 401:
        auth_error = ConfigError if error is SourceError else error
        if instance.token is None:
            return auth_error(f"GitHub at {instance.url} needs a token for {what}: set "
                              "GITHUB_TOKEN to a personal access token (repo scope)")
        return auth_error(f"GitHub at {instance.url} rejected the token in GITHUB_TOKEN (401, "
                          "bad or expired): set it to a valid personal access token")
    if code == 403:
        return error(f"No permission for {what} on {instance.url} (403 {message}): the token "
                     "in GITHUB_TOKEN needs access to it (issues: write to post)".replace(
                         " ()", ""))
    if code == 404:
        name = "the organisation name" if "organisation" in what else "the name (owner/repo)"
        hint = f"check {name} and that the token in GITHUB_TOKEN can see it"
        return error(f"{what[0].upper()}{what[1:]} not found on {instance.url} (404): {hint}")
    if code == 410:
        return error(f"{what[0].upper()}{what[1:]} is gone on {instance.url} (410): issues may "
                     "be turned off for the repository")
    return error(f"GitHub at {instance.url} failed on {what} ({code} {message}): retry later")


class GitHubSource(Source):
    """Every issue (open and closed, pull requests left out) of repositories with its comments."""

    name = "github"

    def __init__(self, settings: Settings, store: Any):
        super().__init__(settings, store)
        self._teams: dict[str, set[str] | None] = {}
        self._instance: Instance | None = None
        self._gh: Github | None = None

    def _connect(self, instance: Instance) -> Github:
        self._instance, self._gh = instance, instance.client()
        return self._gh

    def _errors(self, what: str) -> Any:
        assert self._instance is not None
        return github_errors(self._instance, what)

    # -- sync ----------------------------------------------------------------------------

    def fetch(
        self, repos: Sequence[str] = (), org: str | None = None, since: str | None = None,
        **_: Any,
    ) -> Iterator[Thread]:
        """Yield the threads of the named repositories, an organisation's, or the token's own."""
        since = parse_since(since)
        gh = self._connect(instance_for(self.settings))
        found: dict[str, Any] = {}
        for name in repos or ():
            name = name.strip().strip("/")
            if name.count("/") != 1:
                raise InputError(f"'{name}' is not a repository: give it as owner/name")
            with self._errors(f"repository {name}"):
                repo = gh.get_repo(name)
            found[repo.full_name] = (repo, False)
        listed: list[Any] = []
        if org:
            with self._errors(f"the repositories of organisation {org}"):
                listed = list(gh.get_organization(org.strip()).get_repos(type="all"))
        elif not repos:
            with self._errors("the repositories of the token's user"):
                listed = list(gh.get_user().get_repos())
        for repo in listed:
            found.setdefault(repo.full_name, (repo, True))
        for full_name, (repo, was_listed) in found.items():
            if not repo.has_issues:
                self.problems.append(f"{full_name} has issues turned off")
                continue
            try:
                yield from self._sync_repo(repo, since)
            except SourceError as exc:
                if was_listed and getattr(exc, "status", None) in (403, 404, 410):
                    self.problems.append(str(exc))
                    continue
                raise

    def _sync_repo(self, repo: Any, since: str | None) -> Iterator[Thread]:
        cursor = self.store.get_cursor(self.name, repo.full_name)
        after = since or cursor
        options: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "asc"}
        if after:
            options["since"] = _when(after)
        latest = cursor
        with self._errors(f"issues of {repo.full_name}"):
            issues = list(repo.get_issues(**options))
        for issue in issues:
            updated = _stamp(issue.updated_at)
            if latest is None or _when(updated) > _when(latest):
                latest = updated
            if issue.pull_request is not None:
                continue  # the issues API lists pull requests too
            known = self.store.find_thread(self.name, f"{repo.full_name}#{issue.number}")
            if known is not None and known.updated_at == updated:
                yield known  # nothing changed since: no comments requests
                continue
            yield self._thread(repo, issue)
        gap = since is not None and cursor is not None and _when(since) > _when(cursor)
        if latest and latest != cursor and not gap:
            self.store.set_cursor(self.name, repo.full_name, latest)

    # -- one ticket ----------------------------------------------------------------------

    @classmethod
    def handles_url(cls, url: str) -> bool:
        """github.com issue URLs, and /owner/repo/issues/N on GITHUB_URL's host."""
        ref = parse_issue_url(url)
        if ref is None:
            return False
        host = (urlsplit(ref.base_url).hostname or "").lower()
        configured = web_and_api(os.environ.get("GITHUB_URL") or os.environ.get(
            "GITHUB_API_URL"))[0]
        return host in ("github.com", "www.github.com") or "github" in host or (
            _origin(ref.base_url) == _origin(configured))

    def fetch_url(self, url: str) -> Thread:
        """The issue `url` names, with its comments and team flags."""
        ref = parse_issue_url(url)
        if ref is None:
            raise InputError(f"{url} is not a GitHub issue URL: use "
                             "https://github.com/OWNER/REPO/issues/42")
        gh = self._connect(instance_for(self.settings, ref.base_url, required=False))
        with self._errors(f"repository {ref.repo}"):
            repo = gh.get_repo(ref.repo)
        with self._errors(f"issue {ref.repo}#{ref.number}"):
            issue = repo.get_issue(ref.number)
        if issue.pull_request is not None:
            raise InputError(f"{url} is a pull request: give an issue URL")
        return self._thread(repo, issue)

    # -- mapping -------------------------------------------------------------------------

    def _thread(self, repo: Any, issue: Any) -> Thread:
        with self._errors(f"comments of {repo.full_name}#{issue.number}"):
            comments = list(issue.get_comments())
        team = self._team(repo)

        def message(ident: str, payload: Any, kind: str) -> Message:
            user = payload.user
            login = user.login if user else "ghost"
            bot = bool(user and (user.type == "Bot" or login.endswith("[bot]")))
            association = payload.author_association or ""
            member = login in team if team is not None else association in TEAM_ASSOCIATIONS
            return Message(ident, login, payload.body or "", _stamp(payload.created_at),
                           kind=kind, is_team=member and not bot, is_bot=bot)

        messages = [message("description", issue, "question")]
        comments.sort(key=lambda c: (c.created_at, c.id))
        messages += [message(str(c.id), c, "reply") for c in comments]
        raw = issue.raw_data
        return Thread(
            source=self.name,
            external_id=f"{repo.full_name}#{issue.number}",
            url=issue.html_url,
            title=issue.title,
            state="opened" if issue.state == "open" else issue.state,
            created_at=_stamp(issue.created_at),
            updated_at=_stamp(issue.updated_at),
            project=repo.full_name,
            labels=[label["name"] for label in raw.get("labels") or []],
            messages=messages,
            meta={
                "number": issue.number,
                "closed_at": raw.get("closed_at"),
                "state_reason": raw.get("state_reason"),
                "assignees": [a.get("login") for a in raw.get("assignees") or []],
                "milestone": (raw.get("milestone") or {}).get("title"),
                "reactions": (raw.get("reactions") or {}).get("total_count", 0),
            },
        )

    def _team(self, repo: Any) -> set[str] | None:
        """Logins from settings "team", else collaborators with write access; None when the
        token may not list them (then each author's association with the repository decides)."""
        configured = self.settings.get("team") or []
        if configured:
            return {str(name) for name in configured}
        if repo.full_name not in self._teams:
            try:
                with self._errors(f"collaborators of {repo.full_name}"):
                    people = list(repo.get_collaborators(permission="push"))
                self._teams[repo.full_name] = {p.login for p in people}
            except (SourceError, ConfigError) as exc:
                self.problems.append(f"{exc}; the team is taken from each author's association "
                                     "(owner, member, collaborator) instead")
                self._teams[repo.full_name] = None
        return self._teams[repo.full_name]


def _stamp(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
