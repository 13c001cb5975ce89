"""The GitLab source against a local GitLab API: paging, flags, cursors, errors, URLs."""

from __future__ import annotations

import json
import socket

import pytest
from factories import run_cli
from typer.testing import CliRunner

from understudy.cli import app
from understudy.errors import SourceError, UsageError
from understudy.sources import resolve_ticket, sync
from understudy.sources.cursors import read_cursor
from understudy.sources.gitlab import GitLabSource, parse_issue_url


@pytest.fixture
def acme(gitlab_server):
    """Two projects (one in a subgroup) with 23 + 6 issues; pages hold 5 items."""
    server = gitlab_server
    server.max_per_page = 5
    server.add_project("acme/app")
    server.add_project("acme/sub/api")
    server.add_project("other/tool", member=False)
    server.add_user("deploy-bot", bot=True)
    for project in ("acme/app", "acme/sub/api"):
        server.add_member(project, "dana", 30)  # Developer: team
        server.add_member(project, "rita", 20)  # Reporter: not team
        server.add_member(project, "deploy-bot", 40)  # a project access token's bot user
    for n in range(23):
        server.add_issue("acme/app", f"App problem {n}", f"It breaks in case {n}",
                         state="closed" if n % 3 else "opened", labels=["bug"] if n % 2 else [])
        server.add_note("acme/app", n + 1, f"Try setting option {n}", "dana")
    for n in range(6):
        server.add_issue("acme/sub/api", f"API problem {n}", f"Status 500 on call {n}")
    server.add_issue("other/tool", "Not ours", "not a member")
    return server




def test_sync_reads_every_page_of_issues_and_notes(acme, ws):
    for n in range(12):
        acme.add_note("acme/app", 4, f"Follow-up {n}", "customer" if n % 2 else "dana")
    report = sync(ws, "gitlab")

    assert (report.new, report.updated, report.unchanged, report.skipped) == (29, 0, 0, 0)
    threads = list(ws.store.threads(source="gitlab"))
    assert {t.project for t in threads} == {"acme/app", "acme/sub/api"}  # not other/tool
    assert {t.state for t in threads} == {"opened", "closed"}
    four = ws.store.find_thread("gitlab", "acme/app#4")
    assert four.url == f"{acme.url}/acme/app/-/issues/4"
    assert four.title == "App problem 3" and four.labels == ["bug"]
    assert four.messages[0].kind == "question" and four.messages[0].author == "customer"
    assert four.messages[0].body == "It breaks in case 3"
    bodies = [m.body for m in four.messages[1:]]
    assert bodies == ["Try setting option 3"] + [f"Follow-up {n}" for n in range(12)]
    stamps = [m.created_at for m in four.messages]
    assert stamps == sorted(stamps)
    assert four.meta["iid"] == 4 and four.meta["project_id"] == acme.project("acme/app")["id"]
    # every list was read page by page through the Link headers
    issue_pages = {r.query.get("page") for r in acme.requests_to(r"/projects/\d+/issues$")}
    assert {"2", "3", "4", "5"} <= issue_pages
    app_id = acme.project("acme/app")["id"]
    note_pages = {r.query.get("page") for r in acme.requests_to(rf"/{app_id}/issues/4/notes$")}
    assert {"2", "3"} <= note_pages


def test_notes_are_flagged_system_team_and_bot(acme, ws):
    acme.add_note("acme/app", 1, "changed the description", "dana", system=True)
    acme.add_note("acme/app", 1, "Does option 0 help?", "rita")
    acme.add_note("acme/app", 1, "Pipeline passed", "deploy-bot")
    sync(ws, "gitlab", projects=["acme/app"])

    messages = ws.store.find_thread("gitlab", "acme/app#1").messages
    flags = [(m.author, m.kind, m.is_team, m.is_bot) for m in messages]
    assert flags == [
        ("customer", "question", False, False),
        ("dana", "reply", True, False),
        ("dana", "system", True, False),
        ("rita", "reply", False, False),
        ("deploy-bot", "reply", False, True),
    ]
    # the bot flag is asked once per user, not once per note
    asked = [r.path for r in acme.requests_to(r"/users/\d+$")]
    assert len(asked) == len(set(asked)) == 4  # customer, dana, rita, deploy-bot


def test_team_setting_overrides_members(acme, ws):
    ws.settings.set("team", ["rita"])
    sync(ws, "gitlab", projects=["acme/app"])

    messages = ws.store.find_thread("gitlab", "acme/app#2").messages
    assert [(m.author, m.is_team) for m in messages] == [("customer", False), ("dana", False)]
    assert not acme.requests_to(r"/members/all$")


def test_confidential_issues_and_internal_notes_need_the_flag(acme, ws):
    secret = acme.add_issue("acme/sub/api", "Customer data", "Account 42 leaks", confidential=True)
    acme.add_note("acme/sub/api", 1, "Internal: escalate to the DB team", "dana", internal=True)
    acme.add_note("acme/sub/api", 1, "Please restart the worker", "dana")

    report = sync(ws, "gitlab", projects=["acme/sub/api"])
    assert report.skipped == 1
    assert ws.store.find_thread("gitlab", f"acme/sub/api#{secret['iid']}") is None
    first = ws.store.find_thread("gitlab", "acme/sub/api#1")
    assert [m.body for m in first.messages[1:]] == ["Please restart the worker"]
    assert first.meta["internal_notes_left_out"] == 1

    ws.store.set_cursor("gitlab", "acme/sub/api", "2000-01-01T00:00:00Z")
    report = sync(ws, "gitlab", projects=["acme/sub/api"], include_confidential=True)
    assert report.skipped == 0
    kept = ws.store.find_thread("gitlab", f"acme/sub/api#{secret['iid']}")
    assert kept.meta["confidential"] is True and kept.body == "Account 42 leaks"
    bodies = [m.body for m in ws.store.find_thread("gitlab", "acme/sub/api#1").messages]
    assert "Internal: escalate to the DB team" in bodies


def test_second_sync_makes_only_list_requests(acme, ws):
    sync(ws, "gitlab")
    acme.clear_requests()
    report = sync(ws, "gitlab")

    assert report.new == report.updated == 0
    assert all(r.method == "GET" for r in acme.requests)
    paths = {r.path for r in acme.requests}
    assert paths and all(p == "/api/v4/projects" or p.endswith("/issues") for p in paths)
    for r in acme.requests_to(r"/issues$"):
        assert r.query["updated_after"] == read_cursor(ws.store, "gitlab", _path(acme, r.path)).at


def _path(server, request_path: str) -> str:
    return server.project(request_path.split("/")[4])["path_with_namespace"]


def test_an_update_is_picked_up_through_updated_after(acme, ws):
    sync(ws, "gitlab")
    cursor = read_cursor(ws.store, "gitlab", "acme/app").at
    acme.add_note("acme/app", 7, "Fixed in 2.1, upgrade please", "dana")
    acme.clear_requests()
    report = sync(ws, "gitlab", projects=["acme/app"])

    assert report.updated == 1
    listed = acme.requests_to(r"/issues$")
    assert listed[0].query["updated_after"] == cursor
    app_id = acme.project("acme/app")["id"]
    assert [r.path for r in acme.requests_to(r"/notes$")] == [
        f"/api/v4/projects/{app_id}/issues/7/notes"
    ]
    seven = ws.store.find_thread("gitlab", "acme/app#7")
    assert seven.messages[-1].body == "Fixed in 2.1, upgrade please" and seven.messages[-1].is_team
    assert read_cursor(ws.store, "gitlab", "acme/app").at == seven.updated_at > cursor


def test_cursor_moves_only_after_a_project_finishes(acme, ws):
    acme.fail_next(status=403, retry_after=None, match="/issues/20/notes")
    with pytest.raises(SourceError, match="acme/app#20"):
        list(GitLabSource(ws.settings, ws.store).fetch(projects=["acme/app"]))
    assert ws.store.get_cursor("gitlab", "acme/app") is None

    report = sync(ws, "gitlab", projects=["acme/app"])
    assert report.new == 23
    assert ws.store.get_cursor("gitlab", "acme/app") is not None


def test_group_sync_includes_subgroups(acme, ws):
    acme.add_project("acme/deep/er/lib", member=False)
    acme.add_issue("acme/deep/er/lib", "Deep issue", "deep")
    report = sync(ws, "gitlab", group="acme")

    assert report.new == 23 + 6 + 1
    assert {t.project for t in ws.store.threads()} == {"acme/app", "acme/sub/api",
                                                        "acme/deep/er/lib"}
    listed = acme.requests_to(r"^/api/v4/groups/\d+/projects$")
    assert listed and listed[0].query["include_subgroups"].lower() == "true"


def test_since_limits_the_window(acme, ws):
    twenty = acme.update_issue("acme/app", 20, title="App problem 19 (edited)")
    report = sync(ws, "gitlab", projects=["acme/app"], since=twenty["updated_at"][:19] + "Z")
    assert report.new == 1  # only issue 20 changed at or after that time
    assert ws.store.find_thread("gitlab", "acme/app#20").title == "App problem 19 (edited)"
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        sync(ws, "gitlab", since="last tuesday")


def test_rate_limit_is_waited_out(acme, ws):
    api_id = acme.project("acme/sub/api")["id"]
    acme.fail_next(status=429, retry_after=1, match=f"/{api_id}/issues/2/notes")
    report = sync(ws, "gitlab", projects=["acme/sub/api"])

    assert report.new == 6
    tries = acme.requests_to(rf"/{api_id}/issues/2/notes$")
    assert [r.status for r in tries] == [429, 200]


def test_a_transient_server_error_is_retried_after_the_first_answer(acme, ws):
    acme.fail_next(status=502, retry_after=None, match="/issues/3/notes")
    report = sync(ws, "gitlab", projects=["acme/sub/api"])
    assert report.new == 6
    assert [r.status for r in acme.requests_to(r"/issues/3/notes$")] == [502, 200]


def test_cli_sync_prints_a_summary_and_json(acme):
    runner = CliRunner()
    result = runner.invoke(app, ["sync", "gitlab", "--project", "acme/sub/api"],
                           catch_exceptions=False)
    assert result.exit_code == 0
    assert "gitlab: 6 new, 0 updated, 0 unchanged" in result.output

    result = runner.invoke(app, ["sync", "gitlab", "--project", "acme/sub/api",
                                 "--project", "acme/app", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["source"] == "gitlab" and report["new"] == 23 and report["unchanged"] == 1


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("bad_token", [], ["rejected the token in GITLAB_TOKEN", "401"]),
        ("private_token", [], ["rejected the token in GITLAB_PRIVATE_TOKEN"]),
        ("no_token", [], ["GITLAB_TOKEN"]),
        ("ok", ["--project", "acme/nope"], ["Project acme/nope not found", "404"]),
        ("ok", ["--group", "ghosts"], ["Group ghosts not found"]),
        ("unreachable", [], ["Cannot reach GitLab at http://127.0.0.1:", "GITLAB_URL"]),
        ("ok", ["--since", "soon"], ["'soon' is not a date"]),
    ],
)
def test_cli_errors_are_one_line(acme, monkeypatch, setup, args, expected):
    if setup == "bad_token":
        monkeypatch.setenv("GITLAB_TOKEN", "glpat-expired")
    elif setup == "private_token":
        monkeypatch.delenv("GITLAB_TOKEN")
        monkeypatch.setenv("GITLAB_PRIVATE_TOKEN", "glpat-expired")
    elif setup == "no_token":
        monkeypatch.delenv("GITLAB_TOKEN")
    elif setup == "unreachable":
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setenv("GITLAB_URL", f"http://127.0.0.1:{port}")
    code, out, err = run_cli(monkeypatch, "sync", "gitlab", *args)

    lines = err.strip().splitlines()
    assert code == (2 if "--since" in args else 1)
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "Traceback" not in err + out
    for part in expected:
        assert part in lines[0]
    assert "glpat" not in err  # the token never shows up


def test_a_listed_project_that_hides_its_issues_is_reported(acme, ws):
    api_id = acme.project("acme/sub/api")["id"]
    acme.fail_next(status=403, retry_after=None, match=f"/projects/{api_id}/issues")
    report = sync(ws, "gitlab", group="acme")
    assert report.new == 23
    assert len(report.problems) == 1
    assert "No permission for issues of acme/sub/api" in report.problems[0]
    assert ws.store.get_cursor("gitlab", "acme/sub/api") is None

    acme.fail_next(status=403, retry_after=None, match=f"/projects/{api_id}/issues")
    with pytest.raises(SourceError, match="No permission for issues of acme/sub/api"):
        sync(ws, "gitlab", projects=["acme/sub/api"])


def test_issues_turned_off_is_reported_not_fatal(acme, ws):
    acme.add_project("acme/docs", issues_enabled=False)
    report = sync(ws, "gitlab", projects=["acme/docs", "acme/sub/api"])
    assert report.new == 6
    assert report.problems == ["acme/docs has issues turned off"]


@pytest.mark.parametrize(
    ("url", "project", "iid"),
    [
        ("https://gitlab.example.com/group/sub/project/-/issues/42", "group/sub/project", 42),
        ("https://gitlab.example.com/group/project/issues/42", "group/project", 42),
        ("https://gitlab.example.com/group/project/-/work_items/42#note_9", "group/project", 42),
        ("https://code.corp/a/b/-/issues/7/", "a/b", 7),
    ],
)
def test_issue_url_forms(url, project, iid):
    ref = parse_issue_url(url)
    assert (ref.project, ref.iid) == (project, iid)
    assert GitLabSource.handles_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/owner/repo/issues/42",
        "https://code.corp/owner/repo/issues/42",  # old form on an unknown host: ambiguous
        "https://gitlab.example.com/group/project/-/merge_requests/3",
        "https://gitlab.example.com/groups/acme/-/work_items/3",
        "ftp://gitlab.example.com/group/project/-/issues/3",
    ],
)
def test_other_urls_are_not_gitlab_issues(url):
    assert not GitLabSource.handles_url(url)


def test_old_form_on_the_configured_host(gitlab_server):
    assert GitLabSource.handles_url(f"{gitlab_server.url}/owner/repo/issues/42")


def test_fetch_url_returns_the_thread_with_team_flags(acme, ws):
    acme.add_note("acme/sub/api", 2, "Which version?", "rita")
    for form in ("-/issues/2", "issues/2", "-/work_items/2"):
        thread = resolve_ticket(ws, f"{acme.url}/acme/sub/api/{form}")
        assert thread.external_id == "acme/sub/api#2"
        assert thread.url == f"{acme.url}/acme/sub/api/-/issues/2"
        assert [(m.author, m.is_team) for m in thread.messages] == [
            ("customer", False), ("rita", False)]
    by_path = acme.requests_to(r"^/api/v4/projects/acme/sub/api$")
    assert by_path and by_path[0].raw_target.startswith("/api/v4/projects/acme%2Fsub%2Fapi")
    assert not acme.requests_to(r"search")
    with pytest.raises(SourceError, match="acme/sub/api#99"):
        resolve_ticket(ws, f"{acme.url}/acme/sub/api/-/issues/99")


def test_fetch_url_on_another_host_sends_no_token(gitlab_server, ws):
    gitlab_server.add_project("open/source", visibility="public")
    gitlab_server.add_issue("open/source", "Public question", "How do I start?")
    gitlab_server.add_project("closed/source")
    gitlab_server.add_issue("closed/source", "Private", "hidden")
    other = gitlab_server.url.replace("127.0.0.1", "localhost")

    thread = GitLabSource(ws.settings, ws.store).fetch_url(f"{other}/open/source/-/issues/1")
    assert thread.title == "Public question"
    assert all("private-token" not in r.headers for r in gitlab_server.requests)
    with pytest.raises(SourceError, match="set GITLAB_URL=.* and GITLAB_TOKEN"):
        GitLabSource(ws.settings, ws.store).fetch_url(f"{other}/closed/source/-/issues/1")
