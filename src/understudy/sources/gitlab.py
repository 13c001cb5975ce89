"""GitLab issues and their notes as threads, synced incrementally per project."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import gitlab
import requests
from gitlab.exceptions import GitlabError, GitlabParsingError, RedirectError

from ..config import SECRET_ENV, Settings
from ..errors import ConfigError, InputError, SourceError, UnderstudyError, UsageError
from ..records import Message, Thread
from .base import Source

DEFAULT_URL = "https://gitlab.com"
PER_PAGE = 100
TEAM_ACCESS_LEVEL = 30  # Developer and above count as the team
TIMEOUT = 30

# /group/sub/project/-/issues/42, /group/project/issues/42 (old form), /.../-/work_items/42
_ISSUE_PATH = re.compile(r"^/(?P<project>.+?)/(?P<dash>-/)?(?:issues|work_items)/(?P<iid>\d+)/?$")


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
    import os

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
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
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
    host = parts.hostname.lower()
    if not found["dash"] and not (same_host or "gitlab" in host):
        return None  # owner/repo/issues/N alone could be any tracker (GitHub uses that form)
    if "github" in host:
        return None
    return IssueRef(base, found["project"], int(found["iid"]))


def parse_since(value: str | None) -> str | None:
    """An ISO date or time as a UTC ISO string GitLab accepts; None stays None."""
    if value is None or not str(value).strip():
        return None
    try:
        when = _when(str(value).strip())
    except ValueError:
        raise UsageError(
            f"'{value}' is not a date: give --since as YYYY-MM-DD or an ISO time"
        ) from None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


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
        raise _http_error(instance, what, exc, error) from None
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
    detail = exc.error_message or type(exc).__name__
    return error(f"GitLab at {instance.url} failed on {what} ({code} {detail}): retry later")


_NOT_FOUND_HINTS = {
    "project": "check the path (group/sub/project) and that the token can see it",
    "group": "check the path (group or group/sub) and that the token can see it",
    "issue": "check the issue number and that the token can see the project",
    "": "check that it still exists and that the token can see it",
}


class GitLabSource(Source):
    """Every issue (open and closed) of GitLab projects with all its notes, oldest first."""

    name = "gitlab"

    def __init__(self, settings: Settings, store: Any):
        super().__init__(settings, store)
        self._bots: dict[tuple[str, int], bool] = {}  # (instance, user id) -> bot, per sync
        self._teams: dict[tuple[str, int], set[str]] = {}

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
        instance = instance_for(self.settings)
        gl = instance.client()
        for project in self._projects(gl, instance, list(projects or ()), group):
            yield from self._sync_project(gl, instance, project, since, include_confidential)

    def _projects(
        self, gl: gitlab.Gitlab, instance: Instance, paths: list[str], group: str | None
    ) -> list[Any]:
        found: dict[int, Any] = {}
        for path in paths:
            path = path.strip().strip("/")
            with gitlab_errors(instance, f"project {path}"):
                project = gl.projects.get(path)
            gl.retry_transient_errors = True
            if getattr(project, "issues_enabled", True) is False:
                self.problems.append(f"{project.path_with_namespace} has issues turned off")
                continue
            found[project.id] = project
        listings = []
        if group:
            group = group.strip().strip("/")
            with gitlab_errors(instance, f"group {group}"):
                listed = gl.groups.get(group).projects.list(
                    include_subgroups=True, with_issues_enabled=True, iterator=True)
                listings = list(listed)
        elif not paths:
            with gitlab_errors(instance, "the projects the token is a member of"):
                listings = list(gl.projects.list(membership=True, with_issues_enabled=True,
                                                 iterator=True))
        gl.retry_transient_errors = True
        for listed in listings:
            if listed.id not in found:
                project = gl.projects.get(listed.id, lazy=True)
                project.path_with_namespace = listed.path_with_namespace
                found[listed.id] = project
        return list(found.values())

    def _sync_project(
        self, gl: gitlab.Gitlab, instance: Instance, project: Any, since: str | None,
        include_confidential: bool,
    ) -> Iterator[Thread]:
        path = project.path_with_namespace
        cursor = self.store.get_cursor(self.name, path)
        after = since or cursor
        options: dict[str, Any] = {"order_by": "updated_at", "sort": "asc", "iterator": True}
        if after:
            options["updated_after"] = after
        with gitlab_errors(instance, f"issues of {path}"):
            issues = list(project.issues.list(**options))
        latest = cursor
        for issue in issues:
            if latest is None or _when(issue.updated_at) > _when(latest):
                latest = issue.updated_at
            if issue.confidential and not include_confidential:
                self.skipped += 1
                continue
            known = self.store.find_thread(self.name, f"{path}#{issue.iid}")
            hidden_before = known is not None and known.meta.get("internal_notes_left_out")
            if known is not None and known.updated_at == issue.updated_at and not (
                include_confidential and hidden_before
            ):
                yield known  # nothing changed on GitLab since: no notes requests
                continue
            yield self._thread(gl, instance, project, issue, include_confidential)
        # Only after the project is done, and never past a gap an explicit --since left open.
        gap = since is not None and cursor is not None and _when(since) > _when(cursor)
        if latest and latest != cursor and not gap:
            self.store.set_cursor(self.name, path, latest)

    # -- one ticket ----------------------------------------------------------------------

    @classmethod
    def handles_url(cls, url: str) -> bool:
        import os

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
        instance = instance_for(self.settings, ref.base_url, required=False)
        gl = instance.client()
        with gitlab_errors(instance, f"project {ref.project}"):
            project = gl.projects.get(ref.project)
        gl.retry_transient_errors = True
        name = f"issue {project.path_with_namespace}#{ref.iid}"
        with gitlab_errors(instance, name):
            issue = project.issues.get(ref.iid)
        return self._thread(gl, instance, project, issue, include_internal=False)

    # -- mapping -------------------------------------------------------------------------

    def _thread(
        self, gl: gitlab.Gitlab, instance: Instance, project: Any, issue: Any,
        include_internal: bool,
    ) -> Thread:
        path = project.path_with_namespace
        with gitlab_errors(instance, f"notes of {path}#{issue.iid}"):
            notes = list(issue.notes.list(sort="asc", order_by="created_at", iterator=True))
        notes.sort(key=lambda n: (_when(n.created_at), n.id))
        hidden = {n.id for n in notes if _internal(n) and not include_internal}
        notes = [n for n in notes if n.id not in hidden]
        team = self._team(gl, instance, project)
        author = issue.author or {}
        messages = [self._message(gl, instance, "description", author, issue.description or "",
                                  issue.created_at, "question", team)]
        for note in notes:
            kind = "system" if note.system else "reply"
            messages.append(self._message(gl, instance, str(note.id), note.author or {},
                                          note.body or "", note.created_at, kind, team))
        return Thread(
            source=self.name,
            external_id=f"{path}#{issue.iid}",
            url=issue.web_url,
            title=issue.title,
            state=issue.state,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            project=path,
            labels=list(issue.labels or []),
            messages=messages,
            meta=_meta(issue, len(hidden)),
        )

    def _message(
        self, gl: gitlab.Gitlab, instance: Instance, external_id: str, author: dict, body: str,
        created_at: str, kind: str, team: set[str],
    ) -> Message:
        username = author.get("username", "")
        bot = self._is_bot(gl, instance, author)
        return Message(external_id, username, body, created_at, kind=kind,
                       is_team=username in team and not bot, is_bot=bot)

    def _team(self, gl: gitlab.Gitlab, instance: Instance, project: Any) -> set[str]:
        """Usernames from settings "team", else members with Developer access or more."""
        configured = self.settings.get("team") or []
        if configured:
            return {str(name) for name in configured}
        key = (instance.url, project.id)
        if key not in self._teams:
            try:
                with gitlab_errors(instance, f"members of {project.path_with_namespace}"):
                    members = list(project.members_all.list(iterator=True))
            except (SourceError, ConfigError) as exc:
                self.problems.append(f"{exc} (set \"team\" in settings.json to name the team)")
                members = []
            self._teams[key] = {m.username for m in members
                                if (m.access_level or 0) >= TEAM_ACCESS_LEVEL}
        return self._teams[key]

    def _is_bot(self, gl: gitlab.Gitlab, instance: Instance, author: dict) -> bool:
        """GitLab's `bot` flag from the users API, asked once per user per sync."""
        if "bot" in author:
            return bool(author["bot"])
        user_id = author.get("id")
        if user_id is None:
            return False
        key = (instance.url, int(user_id))
        if key not in self._bots:
            try:
                with gitlab_errors(instance, f"user {author.get('username', user_id)}"):
                    self._bots[key] = bool(getattr(gl.users.get(user_id), "bot", False))
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
