"""GitLab issues and their notes as threads, synced incrementally per project."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import gitlab
import requests
from gitlab.exceptions import GitlabError, GitlabParsingError, RedirectError

from ..config import SECRET_ENV, Settings
from ..dates import utc_stamp
from ..errors import ConfigError, InputError, SourceError, UnderstudyError, UsageError
from ..records import Message, Thread
from .base import Source
from .cursors import Cursor, read_cursor

DEFAULT_URL = "https://gitlab.com"
PER_PAGE = 100
TEAM_ACCESS_LEVEL = 30  # Developer and above count as the team
TIMEOUT = 30
TRANSIENT = {500, 502, 503, 504}  # the statuses python-gitlab retries once the host answered
FIRST_RETRIES = 6  # 0.1 s doubling: about 6 s in all before the first request gives up
T = TypeVar("T")

# /group/sub/project/-/issues/42, /group/project/issues/42 (old form), /.../-/work_items/42
_ISSUE_PATH = re.compile(
    r"^/(?P<project>.+?)/(?P<dash>-/)?(?:issues|work_items)/(?P<iid>[0-9]{1,18})/?$"
)


@dataclass(frozen=True)
class Instance:
    """One GitLab server and the token to use there (None = anonymous)."""

    url: str
    token: str | None
    token_name: str  # where the token came from, for error messages

    def client(self) -> gitlab.Gitlab:
        """A python-gitlab client that waits out 429s (Retry-After) and pages with 100 items."""
        # Transient 5xx retries start after the first answer, so an unreachable host fails fast.
        return gitlab.Gitlab(self.url, private_token=self.token, timeout=TIMEOUT,
                             per_page=PER_PAGE, retry_transient_errors=False,
                             user_agent="understudy")


def first_request(call: Callable[[], T], retries: int = FIRST_RETRIES) -> T:
    """The first request to a host, retried on 5xx like the later ones.

    python-gitlab retries 429s itself (honouring Retry-After) but retries 5xx only together
    with connection errors; those are left to fail at once, so an unreachable host is told
    quickly while a host that answers 502 is given the same chances as later requests.
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except GitlabError as exc:  # python-gitlab wraps the HTTP error per operation
            if exc.response_code not in TRANSIENT or attempt == retries:
                raise
            time.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


@dataclass(frozen=True)
class IssueRef:
    """What a GitLab issue URL names."""

    base_url: str
    project: str
    iid: int


def configured_url(settings: Settings) -> str:
    """GITLAB_URL (or GITLAB_HOST, or settings), with a scheme, without a trailing slash."""
    url = (settings.secret("gitlab_url") or DEFAULT_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = f"https://{url}"
    return url


def token_name(settings: Settings) -> str:
    """The variable (or settings key) that holds the GitLab token, for error messages."""
    for var in SECRET_ENV["gitlab_token"]:
        if os.environ.get(var):
            return var
    if settings.get("gitlab_token"):
        return f'"gitlab_token" in {settings.path}'
    return "GITLAB_TOKEN"


def instance_for(
    settings: Settings, base_url: str | None = None, required: bool = True
) -> Instance:
    """The configured instance, or `base_url`'s; the token only ever goes to its own host."""
    configured = configured_url(settings)
    if base_url and _origin(base_url) != _origin(configured):
        # A token made for GITLAB_URL must not be sent to a host named in a ticket URL.
        return Instance(base_url.rstrip("/"), None, "GITLAB_TOKEN")
    if required:
        token: str | None = settings.require_secret("gitlab_token")
    else:
        token = settings.secret("gitlab_token")
    return Instance(configured, token, token_name(settings))


def parse_issue_url(url: str, configured: str = DEFAULT_URL) -> IssueRef | None:
    """The instance, project path and iid of a GitLab issue or work item URL, else None."""
    try:
        parts = urlsplit(url.strip())
        host, _ = parts.hostname, parts.port  # the port too: 99999 is no port
    except ValueError:  # "http://[..." and other URLs urllib cannot parse name no issue
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path
    known = urlsplit(configured)
    prefix = known.path.rstrip("/")
    same_host = parts.netloc.lower() == known.netloc.lower()
    if same_host and prefix and path.startswith(prefix + "/"):
        base, path = base + prefix, path[len(prefix):]  # GitLab served under a sub-path
    found = _ISSUE_PATH.match(path)
    if not found or found["project"].startswith(("groups/", "-/")) or "/-/" in found["project"]:
        return None
    host = host.lower()
    if not found["dash"] and not (same_host or "gitlab" in host):
        return None  # owner/repo/issues/N alone could be any tracker (GitHub uses that form)
    if "github" in host:
        return None
    return IssueRef(base, found["project"], int(found["iid"]))


def parse_since(value: str | None) -> str | None:
    """An ISO date or time as a UTC ISO string GitLab accepts; None stays None."""
    if value is None or not str(value).strip():
        return None
    stamp = utc_stamp(str(value))
    if stamp is None:
        raise UsageError(
            f"'{str(value)[:60]}' is not a date: give --since as YYYY-MM-DD or an ISO time "
            "(in UTC, years 0001-9999)"
        )
    return stamp


@contextmanager
def gitlab_errors(
    instance: Instance, what: str, error: type[UnderstudyError] = SourceError
) -> Iterator[None]:
    """Turn python-gitlab and network failures into one line that names the fix."""
    try:
        yield
    except UnderstudyError:
        raise
    except RedirectError:
        raise error(
            f"GitLab at {instance.url} redirected the request for {what}: set GITLAB_URL to the "
            "final address (usually https://)"
        ) from None
    except GitlabParsingError:
        raise error(
            f"{instance.url} did not answer like a GitLab API for {what}: check GITLAB_URL "
            "(e.g. https://gitlab.example.com)"
        ) from None
    except GitlabError as exc:
        failure = _http_error(instance, what, exc, error)
        failure.status = exc.response_code  # type: ignore[attr-defined]
        raise failure from None
    except requests.RequestException as exc:
        if isinstance(exc, requests.Timeout):
            problem = f"GitLab at {instance.url} did not answer within {TIMEOUT}s"
        else:
            problem = f"Cannot reach GitLab at {instance.url}"
        raise error(f"{problem} ({what}): check GITLAB_URL and your network") from None


def _http_error(
    instance: Instance, what: str, exc: GitlabError, error: type[UnderstudyError]
) -> UnderstudyError:
    code = exc.response_code
    if code == 401:
        auth_error = ConfigError if error is SourceError else error
        if instance.token is None:
            return auth_error(
                f"GitLab at {instance.url} needs a token for {what}: set GITLAB_URL={instance.url}"
                " and GITLAB_TOKEN to a personal access token (read_api scope) for it"
            )
        return auth_error(
            f"GitLab at {instance.url} rejected the token in {instance.token_name} "
            "(401, bad or expired): set it to a valid personal access token (read_api scope)"
        )
    if code == 403:
        return error(
            f"No permission for {what} on {instance.url} (403): the token in "
            f"{instance.token_name} needs access to it (and the api scope to post)"
        )
    if code == 404:
        missing = f"{what[0].upper()}{what[1:]} not found on {instance.url} (404)"
        if instance.token is None:
            return error(f"{missing}: if it is private, set GITLAB_URL={instance.url} and "
                         "GITLAB_TOKEN to a token for it")
        return error(f"{missing}: {_NOT_FOUND_HINTS.get(what.split()[0], _NOT_FOUND_HINTS[''])}")
    if code == 429:
        return error(f"GitLab at {instance.url} kept rate-limiting {what} (429): wait, then retry")
    detail = str(exc.error_message or type(exc).__name__)
    # python-gitlab's message often starts with the status already ("502: Bad Gateway").
    detail = detail.removeprefix(str(code)).lstrip(" :") or type(exc).__name__
    return error(f"GitLab at {instance.url} failed on {what} ({code} {detail}): retry later")


_NOT_FOUND_HINTS = {
    "project": "check the path (group/sub/project) and that the token can see it",
    "group": "check the path (group or group/sub) and that the token can see it",
    "issue": "check the issue number and that the token can see the project",
    "": "check that it still exists and that the token can see it",
}


@dataclass
class _Project:
    """A project to read: the python-gitlab object, its path, and how it was found."""

    api: Any
    path: str
    listed: bool  # found through a group or membership listing, not named by the user


class GitLabSource(Source):
    """Every issue (open and closed) of GitLab projects with all its notes, oldest first."""

    name = "gitlab"

    def __init__(self, settings: Settings, store: Any):
        super().__init__(settings, store)
        self._bots: dict[tuple[str, int], bool] = {}  # (instance, user id) -> bot, per sync
        self._teams: dict[tuple[str, int], set[str]] = {}
        self._instance: Instance | None = None
        self._gl: gitlab.Gitlab | None = None

    def _connect(self, instance: Instance) -> gitlab.Gitlab:
        self._instance, self._gl = instance, instance.client()
        return self._gl

    def _errors(self, what: str) -> AbstractContextManager[None]:
        assert self._instance is not None
        return gitlab_errors(self._instance, what)

    # -- sync ----------------------------------------------------------------------------

    def fetch(
        self,
        projects: Sequence[str] = (),
        group: str | None = None,
        since: str | None = None,
        include_confidential: bool = False,
    ) -> Iterator[Thread]:
        """Yield the threads of the named projects, a group, or every project the token is in."""
        since = parse_since(since)
        self._connect(instance_for(self.settings))
        for project in self._projects(list(projects or ()), group):
            try:
                yield from self._sync_project(project, since, include_confidential)
            except SourceError as exc:
                # A project found through a listing may hide its issues from this token;
                # report it and go on. A project the user named fails the sync.
                if project.listed and getattr(exc, "status", None) in (403, 404):
                    self.problems.append(str(exc))
                    continue
                raise

    def _projects(self, paths: list[str], group: str | None) -> list[_Project]:
        gl = self._gl
        assert gl is not None
        found: dict[int, _Project] = {}
        for path in paths:
            path = path.strip().strip("/")
            with self._errors(f"project {path}"):
                api = first_request(lambda path=path: gl.projects.get(path))
            gl.retry_transient_errors = True  # the host answers: now 5xx are worth retrying
            if getattr(api, "issues_enabled", True) is False:
                self.problems.append(f"{api.path_with_namespace} has issues turned off")
                continue
            found[api.id] = _Project(api, api.path_with_namespace, listed=False)
        listings: list[Any] = []
        if group:
            group = group.strip().strip("/")
            with self._errors(f"group {group}"):
                found_group = first_request(lambda: gl.groups.get(group))
                gl.retry_transient_errors = True
                listings = list(found_group.projects.list(
                    include_subgroups=True, with_issues_enabled=True, iterator=True))
        elif not paths:
            with self._errors("the projects the token is a member of"):
                listings = first_request(lambda: list(gl.projects.list(
                    membership=True, with_issues_enabled=True, iterator=True)))
        gl.retry_transient_errors = True
        for listed in listings:
            if listed.id not in found:
                api = gl.projects.get(listed.id, lazy=True)
                found[listed.id] = _Project(api, listed.path_with_namespace, listed=True)
        return list(found.values())

    def _sync_project(
        self, project: _Project, since: str | None, include_confidential: bool
    ) -> Iterator[Thread]:
        stored = read_cursor(self.store, self.name, project.path, {"confidential": False})
        filters = {"confidential": include_confidential}
        cursor = stored.at
        widened = stored.widened_by(filters)
        if widened:
            # The issues the cursor passed were read without what is asked for now: read
            # them all again (unchanged ones cost no notes requests).
            cursor = None
        after = since or cursor
        options: dict[str, Any] = {"order_by": "updated_at", "sort": "asc", "iterator": True}
        if after:
            options["updated_after"] = after
        with self._errors(f"issues of {project.path}"):
            issues = list(project.api.issues.list(**options))
        latest = cursor
        for issue in issues:
            if latest is None or _when(issue.updated_at) > _when(latest):
                latest = issue.updated_at
            if issue.confidential and not include_confidential:
                self.skipped += 1
                continue
            known = self.store.find_thread(self.name, f"{project.path}#{issue.iid}")
            hidden_before = known is not None and known.meta.get("internal_notes_left_out")
            if known is not None and known.updated_at == issue.updated_at and not (
                include_confidential and hidden_before
            ):
                yield known  # nothing changed on GitLab since: no notes requests
                continue
            yield self._thread(project, issue, include_confidential)
        # Only after the project is done, and never past a gap an explicit --since left open.
        gap = since is not None and cursor is not None and _when(since) > _when(cursor)
        advanced = latest is not None and latest != stored.at
        if widened and since is not None:
            # Before --since nothing was read again: keep the narrower filters on record.
            filters = {k: v and stored.filters.get(k, False) for k, v in filters.items()}
        elif not widened and not advanced:
            filters = stored.filters  # nothing new was read: what was seen before still holds
        if latest and (advanced or filters != stored.filters) and not gap:
            self.store.set_cursor(self.name, project.path, Cursor(latest, filters).dump())

    # -- one ticket ----------------------------------------------------------------------

    @classmethod
    def handles_url(cls, url: str) -> bool:
        """Issue and work item URLs; the old /issues/N form only on a GitLab-looking host."""
        configured = os.environ.get("GITLAB_URL") or os.environ.get("GITLAB_HOST") or DEFAULT_URL
        if not configured.startswith(("http://", "https://")):
            configured = f"https://{configured}"
        return parse_issue_url(url, configured) is not None

    def fetch_url(self, url: str) -> Thread:
        """The issue `url` names, with its notes and team flags."""
        ref = parse_issue_url(url, configured_url(self.settings))
        if ref is None:
            raise InputError(
                f"{url} is not a GitLab issue URL: use https://HOST/group/project/-/issues/42"
            )
        gl = self._connect(instance_for(self.settings, ref.base_url, required=False))
        with self._errors(f"project {ref.project}"):
            api = first_request(lambda: gl.projects.get(ref.project))
        gl.retry_transient_errors = True
        project = _Project(api, api.path_with_namespace, listed=False)
        with self._errors(f"issue {project.path}#{ref.iid}"):
            issue = api.issues.get(ref.iid)
        return self._thread(project, issue, include_internal=False)

    # -- mapping -------------------------------------------------------------------------

    def _thread(self, project: _Project, issue: Any, include_internal: bool) -> Thread:
        with self._errors(f"notes of {project.path}#{issue.iid}"):
            notes = list(issue.notes.list(sort="asc", order_by="created_at", iterator=True))
        notes.sort(key=lambda n: (_when(n.created_at), n.id))
        hidden = {n.id for n in notes if _internal(n) and not include_internal}
        team = self._team(project)
        messages = [self._message("description", issue.author or {}, issue.description or "",
                                  issue.created_at, "question", team)]
        for note in notes:
            if note.id not in hidden:
                kind = "system" if note.system else "reply"
                messages.append(self._message(str(note.id), note.author or {}, note.body or "",
                                              note.created_at, kind, team))
        return Thread(
            source=self.name,
            external_id=f"{project.path}#{issue.iid}",
            url=issue.web_url,
            title=issue.title,
            state=issue.state,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            project=project.path,
            labels=list(issue.labels or []),
            messages=messages,
            meta=_meta(issue, len(hidden)),
        )

    def _message(
        self, external_id: str, author: dict, body: str, created_at: str, kind: str,
        team: set[str],
    ) -> Message:
        username = author.get("username", "")
        bot = self._is_bot(author)
        return Message(external_id, username, body, created_at, kind=kind,
                       is_team=username in team and not bot, is_bot=bot)

    def _team(self, project: _Project) -> set[str]:
        """Usernames from settings "team", else members with Developer access or more."""
        configured = self.settings.get("team") or []
        if configured:
            return {str(name) for name in configured}
        assert self._instance is not None
        key = (self._instance.url, project.api.id)
        if key not in self._teams:
            try:
                with self._errors(f"members of {project.path}"):
                    members = list(project.api.members_all.list(iterator=True))
            except (SourceError, ConfigError) as exc:
                self.problems.append(f"{exc} (set \"team\" in settings.json to name the team)")
                members = []
            self._teams[key] = {m.username for m in members
                                if (m.access_level or 0) >= TEAM_ACCESS_LEVEL}
        return self._teams[key]

    def _is_bot(self, author: dict) -> bool:
        """GitLab's `bot` flag from the users API, asked once per user per sync."""
        if "bot" in author:
            return bool(author["bot"])
        user_id = author.get("id")
        if user_id is None or self._instance is None or self._gl is None:
            return False
        key = (self._instance.url, int(user_id))
        if key not in self._bots:
            try:
                with self._errors(f"user {author.get('username', user_id)}"):
                    self._bots[key] = bool(getattr(self._gl.users.get(user_id), "bot", False))
            except (SourceError, ConfigError):
                self._bots[key] = False  # a hidden or deleted user is not known to be a bot
        return self._bots[key]


def _internal(note: Any) -> bool:
    return bool(getattr(note, "internal", False) or getattr(note, "confidential", False))


def _meta(issue: Any, hidden_notes: int) -> dict[str, Any]:
    """The issue facts worth keeping besides the thread fields."""
    attrs = issue.attributes
    links = attrs.get("_links") or {}
    meta: dict[str, Any] = {
        "iid": attrs.get("iid"),
        "project_id": attrs.get("project_id"),
        "closed_at": attrs.get("closed_at"),
        "closed_by": (attrs.get("closed_by") or {}).get("username"),
        "upvotes": attrs.get("upvotes", 0),
        "downvotes": attrs.get("downvotes", 0),
        "confidential": bool(attrs.get("confidential")),
        "assignees": [a.get("username") for a in attrs.get("assignees") or []],
        "milestone": (attrs.get("milestone") or {}).get("title"),
        "type": attrs.get("issue_type") or attrs.get("type"),
    }
    for key in ("moved_to_id", "duplicated_to_id"):
        if attrs.get(key):
            meta[key] = attrs[key]
    if links.get("closed_as_duplicate_of"):
        meta["duplicated_to"] = links["closed_as_duplicate_of"]
    if hidden_notes:
        meta["internal_notes_left_out"] = hidden_notes
    return meta


def _when(value: str) -> datetime:
    """A GitLab time (or a plain date) as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
