"""A local GitLab v4 API for tests: projects, groups, members, users, issues and notes."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from loopback import LoopbackServer

TOKEN = "glpat-test-token-0123456789abcdef"
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Recorded:
    """One request the server answered."""

    method: str
    path: str  # decoded path, e.g. /api/v4/projects/acme/app/issues
    raw_target: str  # the request line's target exactly as sent (path and query)
    query: dict[str, str]
    body: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    match: str
    times: int
    method: str | None


@dataclass
class _State:
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    notes: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitLab(LoopbackServer):
    """A GitLab API on 127.0.0.1 that records every request; add data with the helpers."""

    def __init__(
        self, token: str = TOKEN, username: str = "me", max_per_page: int = 100,
        bot: bool = False,
    ):
        """`bot`: the token's user is a bot (a project or group access token's user)."""
        self.token = token
        self.max_per_page = max_per_page  # GitLab caps pages at 100; lower it to test paging
        self.note_delay = 0.0  # seconds a note POST takes, so concurrent senders overlap
        self.on_note: Any = None  # called with each note created over the API, before replying
        self.requests: list[Recorded] = []
        self._state = _State()
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._ids = 0
        self._ticks = 0
        self.me = self.add_user(username, name="Token Owner", bot=bot)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.origin

    # -- data helpers --------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def now(self) -> str:
        """The next time on the server's clock (one minute per call, always increasing)."""
        self._ticks += 1
        return _stamp(START + timedelta(minutes=self._ticks))

    def add_user(self, username: str, name: str | None = None, bot: bool = False) -> dict:
        with self._lock:
            for user in self._state.users.values():
                if user["username"] == username:
                    return user
            uid = self._next_id()
            user = {
                "id": uid, "username": username, "name": name or username.title(),
                "state": "active", "locked": False, "bot": bot,
                "avatar_url": f"https://secure.gravatar.com/avatar/{uid}",
                "web_url": f"http://gitlab.test/{username}", "created_at": _stamp(START),
            }
            self._state.users[uid] = user
            return user

    def add_group(self, full_path: str) -> dict:
        with self._lock:
            found = self._group(full_path)
            if found:
                return found
            parent_path, _, path = full_path.rpartition("/")
            parent = self.add_group(parent_path) if parent_path else None
            gid = self._next_id()
            group = {
                "id": gid, "name": path.title(), "path": path, "full_path": full_path,
                "full_name": full_path.replace("/", " / "), "parent_id": parent and parent["id"],
                "visibility": "private", "web_url": f"{self.url}/groups/{full_path}",
                "description": "", "created_at": _stamp(START),
            }
            self._state.groups[gid] = group
            return group

    def add_project(
        self,
        path_with_namespace: str,
        visibility: str = "private",
        member: bool = True,
        issues_enabled: bool = True,
    ) -> dict:
        """A project (its groups are created); `member` = the token owner is a member."""
        with self._lock:
            namespace_path, _, path = path_with_namespace.rpartition("/")
            group = self.add_group(namespace_path)
            pid = self._next_id()
            project = {
                "id": pid, "description": None, "name": path.title(),
                "name_with_namespace": f"{group['full_name']} / {path.title()}", "path": path,
                "path_with_namespace": path_with_namespace, "created_at": _stamp(START),
                "default_branch": "main", "visibility": visibility,
                "web_url": f"{self.url}/{path_with_namespace}",
                "issues_enabled": issues_enabled, "archived": False,
                "namespace": {
                    "id": group["id"], "name": group["name"], "path": group["path"],
                    "kind": "group", "full_path": group["full_path"],
                    "parent_id": group["parent_id"],
                },
                "_member": member,
            }
            self._state.projects[pid] = project
            self._state.members[pid] = []
            self._state.issues[pid] = {}
            if member:
                self.add_member(path_with_namespace, self.me["username"], 40)
            return project

    def add_member(self, project: str, username: str, access_level: int = 30) -> dict:
        with self._lock:
            user = self.add_user(username)
            member = {**_basic(user), "access_level": access_level, "created_at": _stamp(START),
                      "expires_at": None, "membership_state": "active"}
            self._state.members[self.project(project)["id"]].append(member)
            return member

    def add_issue(
        self,
        project: str,
        title: str,
        description: str | None,
        author: str = "customer",
        state: str = "opened",
        confidential: bool = False,
        labels: list[str] | None = None,
        upvotes: int = 0,
    ) -> dict:
        with self._lock:
            proj = self.project(project)
            issues = self._state.issues[proj["id"]]
            iid = len(issues) + 1
            stamp = self.now()
            user = self.add_user(author)
            issue = {
                "id": self._next_id(), "iid": iid, "project_id": proj["id"], "title": title,
                "description": description, "state": state, "created_at": stamp,
                "updated_at": stamp, "closed_at": stamp if state == "closed" else None,
                "closed_by": _basic(self.me) if state == "closed" else None,
                "labels": list(labels or []), "milestone": None, "assignees": [],
                "assignee": None, "author": _basic(user), "type": "ISSUE",
                "issue_type": "issue", "user_notes_count": 0, "merge_requests_count": 0,
                "upvotes": upvotes, "downvotes": 0, "due_date": None,
                "confidential": confidential, "discussion_locked": None,
                "web_url": f"{proj['web_url']}/-/issues/{iid}",
                "references": {"short": f"#{iid}", "relative": f"#{iid}",
                               "full": f"{proj['path_with_namespace']}#{iid}"},
                "moved_to_id": None, "service_desk_reply_to": None,
                "time_stats": {"time_estimate": 0, "total_time_spent": 0},
                "_links": {
                    "self": f"{self.url}/api/v4/projects/{proj['id']}/issues/{iid}",
                    "notes": f"{self.url}/api/v4/projects/{proj['id']}/issues/{iid}/notes",
                    "award_emoji": f"{self.url}/api/v4/projects/{proj['id']}/issues/{iid}"
                                   "/award_emoji",
                    "project": f"{self.url}/api/v4/projects/{proj['id']}",
                    "closed_as_duplicate_of": None,
                },
            }
            issues[iid] = issue
            self._state.notes[(proj["id"], iid)] = []
            return issue

    def add_note(
        self,
        project: str,
        iid: int,
        body: str,
        author: str,
        system: bool = False,
        internal: bool = False,
    ) -> dict:
        """A note on an issue; like GitLab, it touches the issue's updated_at."""
        with self._lock:
            proj = self.project(project)
            return self._create_note(proj["id"], iid, body, self.add_user(author), system,
                                     internal)

    def update_issue(self, project: str, iid: int, **changes: Any) -> dict:
        with self._lock:
            issue = self._state.issues[self.project(project)["id"]][iid]
            issue.update(changes)
            issue["updated_at"] = self.now()
            return issue

    def notes(self, project: str, iid: int) -> list[dict]:
        with self._lock:
            return list(self._state.notes[(self.project(project)["id"], iid)])

    def project(self, ref: str | int) -> dict:
        found = self._project(str(ref))
        if found is None:
            raise KeyError(ref)
        return found

    def fail_next(
        self,
        status: int = 429,
        retry_after: int | None = 1,
        match: str = "",
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests (of `method`) whose path contains `match`."""
        with self._lock:
            self._failures.append(_Failure(status, retry_after, match, times, method))

    def requests_to(self, pattern: str, method: str | None = None) -> list[Recorded]:
        """Recorded requests whose decoded path matches the regex `pattern`."""
        return [r for r in self.requests if re.search(pattern, r.path)
                and (method is None or r.method == method)]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- lookups used by the handler -----------------------------------------------------

    def _group(self, ref: str) -> dict | None:
        for group in self._state.groups.values():
            if str(group["id"]) == ref or group["full_path"] == ref:
                return group
        return None

    def _project(self, ref: str) -> dict | None:
        for project in self._state.projects.values():
            if str(project["id"]) == ref or project["path_with_namespace"] == ref:
                return project
        return None

    def _create_note(
        self, pid: int, iid: int, body: str, user: dict, system: bool, internal: bool
    ) -> dict:
        issue = self._state.issues[pid][iid]
        stamp = self.now()
        note = {
            "id": self._next_id(), "type": None, "body": body, "attachment": None,
            "author": _basic(user), "created_at": stamp, "updated_at": stamp,
            "system": system, "noteable_id": issue["id"], "noteable_type": "Issue",
            "project_id": pid, "noteable_iid": iid, "resolvable": False,
            "confidential": internal, "internal": internal, "imported": False,
            "imported_from": "none",
        }
        self._state.notes[(pid, iid)].append(note)
        issue["updated_at"] = stamp
        if not system:
            issue["user_notes_count"] += 1
        return note

    def _failure_for(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.match in path and failure.method in (None, method):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _true(value: Any) -> bool:
    """A GitLab boolean parameter: true, True, 1, yes..."""
    return str(value).lower() in ("true", "1", "t", "yes", "on")


def _basic(user: dict) -> dict:
    """The user shape GitLab embeds in issues, notes and members (no `bot` flag)."""
    keys = ("id", "username", "name", "state", "locked", "avatar_url", "web_url")
    return {k: user[k] for k in keys}


def _public(project: dict) -> dict:
    return {k: v for k, v in project.items() if not k.startswith("_member")}


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitLab
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.split("/")]
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        record = Recorded(method, "/".join(segments), self.path, query, raw_body,
                          {k.lower(): v for k, v in self.headers.items()})
        with fake._lock:
            fake.requests.append(record)
        try:
            failure = fake._failure_for(method, record.path)
            if failure:
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                raise _HTTPError(failure.status, f"{failure.status} Injected", extra)
            user = self._user()
            if segments[:3] != ["", "api", "v4"]:
                raise _HTTPError(404, "404 Not Found")
            status, payload, headers = self._route(method, segments[3:], query, raw_body, user)
        except _HTTPError as exc:
            key = "error" if exc.status == 400 else "message"
            status, payload, headers = exc.status, {key: exc.message}, exc.headers
        record.status = status
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _user(self) -> dict | None:
        token = self.headers.get("PRIVATE-TOKEN")
        bearer = self.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            token = bearer[7:]
        if token is None:
            return None
        if token != self.fake.token:
            raise _HTTPError(401, "401 Unauthorized")
        return self.fake.me

    def _body(self, raw: str) -> dict[str, Any]:
        if "json" in (self.headers.get("Content-Type") or ""):
            return json.loads(raw or "{}")
        return {k: v[-1] for k, v in parse_qs(raw).items()}

    # -- routes --------------------------------------------------------------------------

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], raw: str, user: dict | None
    ) -> tuple[int, Any, dict[str, str]]:
        fake = self.fake
        state = fake._state
        match method, parts:
            case "GET", ["user"]:
                if user is None:
                    raise _HTTPError(401, "401 Unauthorized")
                return 200, user, {}
            case "GET", ["users", uid]:
                found = state.users.get(int(uid)) if uid.isdigit() else None
                if found is None:
                    raise _HTTPError(404, "404 User Not Found")
                return 200, found, {}
            case "GET", ["projects"]:
                projects = [p for p in state.projects.values() if self._visible(p, user)]
                if _true(query.get("membership")):
                    projects = [p for p in projects if p["_member"] and user]
                if _true(query.get("with_issues_enabled")):
                    projects = [p for p in projects if p["issues_enabled"]]
                return self._page([_public(p) for p in projects], query)
            case "GET", ["groups", ref]:
                return 200, self._find_group(ref, user), {}
            case "GET", ["groups", ref, "projects"]:
                group = self._find_group(ref, user)
                subgroups = _true(query.get("include_subgroups"))
                projects = [
                    p for p in state.projects.values() if self._visible(p, user)
                    and (p["namespace"]["full_path"] == group["full_path"] or (
                        subgroups and p["namespace"]["full_path"].startswith(
                            group["full_path"] + "/")))
                ]
                if _true(query.get("with_issues_enabled")):
                    projects = [p for p in projects if p["issues_enabled"]]
                return self._page([_public(p) for p in projects], query)
            case "GET", ["projects", ref]:
                return 200, _public(self._find_project(ref, user)), {}
            case "GET", ["projects", ref, "members", "all"]:
                project = self._find_project(ref, user)
                return self._page(list(state.members[project["id"]]), query)
            case "GET", ["projects", ref, "issues"]:
                project = self._find_project(ref, user)
                if not project["issues_enabled"]:
                    raise _HTTPError(403, "403 Forbidden")
                return self._page(self._issues(project, query), query)
            case "GET", ["projects", ref, "issues", iid]:
                return 200, self._find_issue(ref, iid, user), {}
            case "GET", ["projects", ref, "issues", iid, "notes"]:
                issue = self._find_issue(ref, iid, user)
                notes = list(state.notes[(issue["project_id"], issue["iid"])])
                key = query.get("order_by", "created_at")
                notes.sort(key=lambda n: (n[key], n["id"]),
                           reverse=query.get("sort", "desc") == "desc")
                return self._page(notes, query)
            case "POST", ["projects", ref, "issues", iid, "notes"]:
                issue = self._find_issue(ref, iid, user)
                if user is None:
                    raise _HTTPError(401, "401 Unauthorized")
                data = self._body(raw)
                if not data.get("body"):
                    raise _HTTPError(400, "body is missing")
                internal = data.get("internal", data.get("confidential"))
                if fake.note_delay:
                    time.sleep(fake.note_delay)
                with fake._lock:
                    note = fake._create_note(issue["project_id"], issue["iid"], data["body"],
                                             user, False, _true(internal))
                if fake.on_note:
                    fake.on_note(note)
                return 201, note, {}
            case "PUT", ["projects", ref, "issues", iid, "notes", note_id]:
                issue = self._find_issue(ref, iid, user)
                notes = state.notes[(issue["project_id"], issue["iid"])]
                note = next((n for n in notes if str(n["id"]) == note_id), None)
                if note is None:
                    raise _HTTPError(404, "404 Note Not Found")
                if user is None or note["author"]["id"] != user["id"]:
                    raise _HTTPError(403, "403 Forbidden")
                data = self._body(raw)
                if not data.get("body"):
                    raise _HTTPError(400, "body is missing")
                with fake._lock:
                    note["body"] = data["body"]
                    note["updated_at"] = fake.now()
                return 200, note, {}
        raise _HTTPError(404, "404 Not Found")

    def _visible(self, project: dict, user: dict | None) -> bool:
        return user is not None or project["visibility"] == "public"

    def _find_project(self, ref: str, user: dict | None) -> dict:
        project = self.fake._project(ref)
        if project is None or not self._visible(project, user):
            raise _HTTPError(404, "404 Project Not Found")
        return project

    def _find_group(self, ref: str, user: dict | None) -> dict:
        group = self.fake._group(ref)
        if group is None or user is None:
            raise _HTTPError(404, "404 Group Not Found")
        return group

    def _find_issue(self, ref: str, iid: str, user: dict | None) -> dict:
        project = self._find_project(ref, user)
        issue = self.fake._state.issues[project["id"]].get(int(iid)) if iid.isdigit() else None
        if issue is None:
            raise _HTTPError(404, "404 Not found")
        return issue

    def _issues(self, project: dict, query: dict[str, str]) -> list[dict]:
        issues = list(self.fake._state.issues[project["id"]].values())
        state = query.get("state", "all")
        if state in ("opened", "closed"):
            issues = [i for i in issues if i["state"] == state]
        if "updated_after" in query:  # GitLab: updated on or after the given time
            after = _when(query["updated_after"])
            issues = [i for i in issues if _when(i["updated_at"]) >= after]
        if "confidential" in query:
            wanted = _true(query["confidential"])
            issues = [i for i in issues if i["confidential"] == wanted]
        key = query.get("order_by", "created_at")
        issues.sort(key=lambda i: (i[key], i["id"]), reverse=query.get("sort", "desc") == "desc")
        return issues

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Offset pagination with the headers and Link GitLab sends."""
        per_page = max(1, min(int(query.get("per_page") or 20), self.fake.max_per_page))
        page = max(1, int(query.get("page") or 1))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"{self.fake.url}{urlsplit(self.path).path}"

        def link(number: int) -> str:
            params = {**query, "page": str(number), "per_page": str(per_page)}
            return f"{base}?{urlencode(params, quote_via=quote)}"

        links = [f'<{link(page + 1)}>; rel="next"'] if page < total_pages else []
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        links += [f'<{link(1)}>; rel="first"', f'<{link(total_pages)}>; rel="last"']
        headers = {
            "X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "", "Link": ", ".join(links),
        }
        return 200, chunk, headers


FakeGitLab.handler_class = _Handler
