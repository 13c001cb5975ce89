"""A local GitHub REST API for tests: repositories, organisations, issues and comments."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from loopback import LoopbackServer

TOKEN = "ghp_testtoken0123456789abcdefghijklmnop"
START = datetime(2024, 1, 1, tzinfo=UTC)
API = "/api/v3"


@dataclass
class Recorded:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    body: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Failure:
    status: int
    match: str
    times: int
    method: str | None
    headers: dict[str, str]
    message: str


@dataclass
class _State:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # full_name -> repo
    collaborators: dict[str, dict[str, str]] = field(default_factory=dict)  # repo -> login: perm
    issues: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitHub(LoopbackServer):
    """A GitHub API (Enterprise layout, /api/v3) on 127.0.0.1 that records every request."""

    def __init__(self, token: str = TOKEN, username: str = "me", max_per_page: int = 100,
                 collaborators_visible: bool = True):
        self.token = token
        self.max_per_page = max_per_page
        self.collaborators_visible = collaborators_visible  # False: listing them answers 403
        self.requests: list[Recorded] = []
        self._state = _State()
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._ids = 1000
        self._ticks = 0
        self.bind()
        self.me = self.add_user(username)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The web address (GITHUB_URL); the API is under /api/v3."""
        return self.origin

    # -- data helpers --------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def now(self) -> str:
        """The next time on the server's clock (one minute per call, always increasing)."""
        self._ticks += 1
        return _stamp(START + timedelta(minutes=self._ticks))

    def add_user(self, login: str, bot: bool = False) -> dict:
        with self._lock:
            if login not in self._state.users:
                uid = self._next_id()
                self._state.users[login] = {
                    "login": login, "id": uid, "node_id": f"U_{uid}",
                    "type": "Bot" if bot else "User", "site_admin": False,
                    "url": f"{self.url}{API}/users/{login}",
                    "html_url": f"{self.url}/{login}",
                    "avatar_url": f"{self.url}/avatars/{uid}",
                }
            return self._state.users[login]

    def add_repo(self, full_name: str, has_issues: bool = True, mine: bool = True) -> dict:
        """A repository; `mine` = listed by /user/repos (the token's user can push)."""
        with self._lock:
            owner, _, name = full_name.partition("/")
            rid = self._next_id()
            repo = {
                "id": rid, "node_id": f"R_{rid}", "name": name, "full_name": full_name,
                "private": True, "owner": self.add_user(owner),
                "html_url": f"{self.url}/{full_name}", "description": None, "fork": False,
                "url": f"{self.url}{API}/repos/{full_name}", "has_issues": has_issues,
                "open_issues_count": 0, "default_branch": "main", "archived": False,
                "created_at": _stamp(START), "updated_at": _stamp(START),
                "_mine": mine,
            }
            self._state.repos[full_name] = repo
            self._state.issues[full_name] = {}
            self._state.collaborators[full_name] = {}
            if mine:
                self.add_collaborator(full_name, self.me["login"], "admin")
            return repo

    def add_collaborator(self, repo: str, login: str, permission: str = "push") -> None:
        """`permission`: pull, triage, push, maintain or admin."""
        with self._lock:
            self.add_user(login)
            self._state.collaborators[repo][login] = permission

    def add_issue(self, repo: str, title: str, body: str | None, author: str = "customer",
                  state: str = "open", labels: list[str] | None = None,
                  pull_request: bool = False, association: str = "NONE") -> dict:
        with self._lock:
            issues = self._state.issues[repo]
            number = len(issues) + 1
            stamp = self.now()
            base = f"{self.url}{API}/repos/{repo}/issues/{number}"
            issue = {
                "id": self._next_id(), "node_id": f"I_{number}", "number": number,
                "title": title, "body": body, "state": state, "locked": False,
                "user": self.add_user(author), "author_association": association,
                "labels": [{"id": n, "name": name, "color": "ededed"}
                           for n, name in enumerate(labels or [])],
                "assignees": [], "assignee": None, "milestone": None, "comments": 0,
                "created_at": stamp, "updated_at": stamp,
                "closed_at": stamp if state == "closed" else None,
                "state_reason": "completed" if state == "closed" else None,
                "url": base, "comments_url": f"{base}/comments",
                "html_url": f"{self.url}/{repo}/{'pull' if pull_request else 'issues'}/{number}",
                "repository_url": f"{self.url}{API}/repos/{repo}",
                "reactions": {"total_count": 0},
            }
            if pull_request:
                issue["pull_request"] = {"url": f"{self.url}{API}/repos/{repo}/pulls/{number}"}
            issues[number] = issue
            self._state.comments[(repo, number)] = []
            return issue

    def add_comment(self, repo: str, number: int, body: str, author: str,
                    association: str = "NONE") -> dict:
        """A comment; like GitHub, it touches the issue's updated_at."""
        with self._lock:
            return self._create_comment(repo, number, body, self.add_user(author), association)

    def update_issue(self, repo: str, number: int, **changes: Any) -> dict:
        with self._lock:
            issue = self._state.issues[repo][number]
            issue.update(changes)
            issue["updated_at"] = self.now()
            return issue

    def comments(self, repo: str, number: int) -> list[dict]:
        with self._lock:
            return list(self._state.comments[(repo, number)])

    def fail_next(self, status: int = 429, match: str = "", times: int = 1,
                  method: str | None = None, retry_after: int | None = None,
                  rate_limited: bool = False, message: str = "failure") -> None:
        """Answer the next `times` requests whose path contains `match` with `status`.

        `rate_limited` answers as GitHub's primary rate limit does (remaining 0, a reset time
        one second away); `retry_after` adds a Retry-After header (the secondary limit).
        """
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if rate_limited:
            reset = int(datetime.now(UTC).timestamp()) + 1
            headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000",
                            "X-RateLimit-Reset": str(reset)})
            message = "API rate limit exceeded for user."
        with self._lock:
            self._failures.append(_Failure(status, match, times, method, headers, message))

    def requests_to(self, pattern: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if re.search(pattern, r.path)
                and (method is None or r.method == method)]

    # -- used by the handler -------------------------------------------------------------

    def _create_comment(self, repo: str, number: int, body: str, user: dict,
                        association: str) -> dict:
        issue = self._state.issues[repo][number]
        stamp = self.now()
        cid = self._next_id()
        comment = {
            "id": cid, "node_id": f"IC_{cid}", "body": body, "user": user,
            "author_association": association, "created_at": stamp, "updated_at": stamp,
            "url": f"{self.url}{API}/repos/{repo}/issues/comments/{cid}",
            "html_url": f"{issue['html_url']}#issuecomment-{cid}",
            "issue_url": issue["url"],
        }
        self._state.comments[(repo, number)].append(comment)
        issue["updated_at"] = stamp
        issue["comments"] += 1
        return comment

    def _failure_for(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.match in path and failure.method in (None, method):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _collaborators(self, repo: str, permission: str | None) -> list[dict]:
        order = ["pull", "triage", "push", "maintain", "admin"]
        wanted = order.index(permission) if permission in order else 0
        found = []
        for login, perm in self._state.collaborators[repo].items():
            if order.index(perm) >= wanted:
                user = dict(self._state.users[login])
                user["permissions"] = {p: order.index(perm) >= order.index(p) for p in order}
                user["role_name"] = perm
                found.append(user)
        return found


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        record = Recorded(method, parts.path, query, body, dict(self.headers))
        with fake._lock:
            fake.requests.append(record)
        failure = fake._failure_for(method, parts.path)
        if failure:
            return self._send(record, failure.status, {"message": failure.message},
                              failure.headers)
        auth = self.headers.get("Authorization", "")
        if auth and auth.split(" ", 1)[-1] != fake.token:
            return self._send(record, 401, {"message": "Bad credentials"})
        if not parts.path.startswith(API + "/"):
            return self._send(record, 404, {"message": "Not Found"})
        try:
            status, payload, headers = self._route(method, parts.path[len(API):], query, body,
                                                   bool(auth))
        except KeyError:
            status, payload, headers = 404, {"message": "Not Found"}, {}
        self._send(record, status, payload, headers)

    def _route(self, method: str, path: str, query: dict[str, str], body: str,
               authed: bool) -> tuple[int, Any, dict[str, str]]:
        fake, state = self.fake, self.fake._state
        with fake._lock:
            if path == "/user" and authed:
                return 200, fake.me, {}
            if path == "/user/repos" and authed:
                return self._page([_public(r) for r in state.repos.values() if r["_mine"]],
                                  path, query)
            found = re.fullmatch(r"/orgs/([^/]+)", path)
            if found and any(r.startswith(found[1] + "/") for r in state.repos):
                return 200, {"login": found[1], "id": 1, "type": "Organization",
                             "url": f"{fake.url}{API}/orgs/{found[1]}"}, {}
            found = re.fullmatch(r"/orgs/([^/]+)/repos", path)
            if found:
                repos = [_public(r) for r in state.repos.values()
                         if r["full_name"].startswith(found[1] + "/")]
                if not repos:
                    raise KeyError(path)
                return self._page(repos, path, query)
            found = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
            if not found:
                raise KeyError(path)
            repo, rest = found[1], found[2] or ""
            if repo not in state.repos:
                raise KeyError(repo)
            if rest == "" and method == "GET":
                return 200, _public(state.repos[repo]), {}
            if rest == "/collaborators":
                if not fake.collaborators_visible:
                    return 403, {"message": "Must have push access to view repository "
                                            "collaborators."}, {}
                return self._page(fake._collaborators(repo, query.get("permission")), path,
                                  query)
            if rest == "/issues":
                issues = list(state.issues[repo].values())
                if query.get("state", "open") != "all":
                    issues = [i for i in issues if i["state"] == query.get("state", "open")]
                if "since" in query:
                    since = _when(query["since"])
                    issues = [i for i in issues if _when(i["updated_at"]) >= since]
                key = "updated_at" if query.get("sort") == "updated" else "created_at"
                issues.sort(key=lambda i: (i[key], i["number"]),
                            reverse=query.get("direction", "desc") == "desc")
                return self._page(issues, path, query)
            found = re.fullmatch(r"/issues/comments/(\d+)", rest)
            if found:
                comment = next(c for cs in state.comments.values() for c in cs
                               if c["id"] == int(found[1]) and c["issue_url"].startswith(
                                   f"{fake.url}{API}/repos/{repo}/"))
                if method == "PATCH":
                    if not authed or comment["user"]["id"] != fake.me["id"]:
                        return 403, {"message": "Resource not accessible"}, {}
                    comment["body"] = json.loads(body or "{}").get("body") or comment["body"]
                    comment["updated_at"] = fake.now()
                return 200, comment, {}
            found = re.fullmatch(r"/issues/(\d+)(/comments)?", rest)
            if not found:
                raise KeyError(rest)
            number = int(found[1])
            issue = state.issues[repo][number]
            if not found[2]:
                return 200, issue, {}
            if method == "POST":
                if not authed:
                    return 401, {"message": "Requires authentication"}, {}
                text = json.loads(body or "{}").get("body")
                if not text:
                    return 422, {"message": "Validation Failed"}, {}
                return 201, fake._create_comment(repo, number, text, fake.me, "OWNER"), {}
            return self._page(state.comments[(repo, number)], path, query)

    def _page(self, items: list[Any], path: str, query: dict[str, str]
              ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", 30)), self.fake.max_per_page)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            following = urlencode({**query, "page": page + 1})
            headers["Link"] = f'<{self.fake.url}{API}{path}?{following}>; rel="next"'
        return 200, chunk, headers

    def _send(self, record: Recorded, status: int, payload: Any,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _public(repo: dict) -> dict:
    return {k: v for k, v in repo.items() if not k.startswith("_")}


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


FakeGitHub.handler_class = _Handler
