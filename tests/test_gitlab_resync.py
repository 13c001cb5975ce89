"""GitLab sync: a wider filter reads again what the cursor passed; the first request retries."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import understudy.sources.gitlab as gitlab_source
from understudy.cli import app
from understudy.errors import SourceError
from understudy.sources import resolve_ticket, sync
from understudy.sources.cursors import read_cursor
from understudy.sources.gitlab import FIRST_RETRIES
from understudy.workspace import Workspace


@pytest.fixture
def desk(gitlab_server):
    """One project: five public issues with three confidential ones among them."""
    server = gitlab_server
    server.add_project("acme/desk")
    server.add_member("acme/desk", "dana", 30)
    for n in range(8):
        server.add_issue("acme/desk", f"Question {n}", f"Details of {n}", confidential=n % 3 == 1)
    return server


def _confidential(ws: Workspace) -> list[str]:
    return sorted(t.title for t in ws.store.threads(source="gitlab") if t.meta["confidential"])


def test_include_confidential_after_a_sync_without_it_reads_what_the_cursor_passed(desk, ws):
    first = sync(ws, "gitlab", projects=["acme/desk"])
    assert (first.new, first.skipped) == (5, 3)
    cursor = read_cursor(ws.store, "gitlab", "acme/desk")
    assert cursor.at is not None and cursor.filters == {"confidential": False}

    desk.clear_requests()
    result = CliRunner().invoke(app, ["sync", "gitlab", "--project", "acme/desk",
                                      "--include-confidential", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["new"], report["unchanged"], report["skipped"]) == (3, 5, 0)
    assert _confidential(ws) == ["Question 1", "Question 4", "Question 7"]
    listed = desk.requests_to(r"/issues$")
    assert "updated_after" not in listed[0].query  # read from the start
    assert read_cursor(ws.store, "gitlab", "acme/desk").filters == {"confidential": True}

    desk.clear_requests()  # the same filters again: the cursor holds, nothing is reread
    again = sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True)
    assert again.new == again.updated == 0
    assert desk.requests_to(r"/issues$")[0].query["updated_after"] == cursor.at


def test_a_narrower_sync_that_moves_the_cursor_records_the_narrower_filters(desk, ws):
    sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True)
    wide = read_cursor(ws.store, "gitlab", "acme/desk")
    assert sync(ws, "gitlab", projects=["acme/desk"]).new == 0  # nothing new: filters kept
    assert read_cursor(ws.store, "gitlab", "acme/desk") == wide

    desk.add_issue("acme/desk", "Later secret", "Account 9", confidential=True)
    desk.add_issue("acme/desk", "Later public", "Hello")
    narrow = sync(ws, "gitlab", projects=["acme/desk"])
    assert narrow.new == 1 and "Later secret" not in _confidential(ws)
    assert read_cursor(ws.store, "gitlab", "acme/desk").filters == {"confidential": False}
    wider = sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True)
    assert wider.new == 1 and "Later secret" in _confidential(ws)


def test_widening_with_since_keeps_the_narrow_filters_on_record(desk, ws):
    sync(ws, "gitlab", projects=["acme/desk"])
    late = desk.update_issue("acme/desk", 8, title="Question 7 (edited)")
    windowed = sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True,
                    since=late["updated_at"])
    assert windowed.new == 1 and _confidential(ws) == ["Question 7 (edited)"]
    # Confidential issues before --since were not read: the next wide sync reads them.
    assert read_cursor(ws.store, "gitlab", "acme/desk").filters == {"confidential": False}
    full = sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True)
    assert full.new == 2 and len(_confidential(ws)) == 3


def test_a_cursor_from_before_filters_were_recorded_counts_as_without_confidential(desk, ws):
    sync(ws, "gitlab", projects=["acme/desk"])
    at = read_cursor(ws.store, "gitlab", "acme/desk").at
    ws.store.set_cursor("gitlab", "acme/desk", at)  # the old form: a bare time
    assert read_cursor(ws.store, "gitlab", "acme/desk").filters == {}
    assert sync(ws, "gitlab", projects=["acme/desk"], include_confidential=True).new == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_the_project_lookup_is_retried_like_later_requests(desk, ws, status):
    desk.fail_next(status=status, retry_after=1 if status == 429 else None,
                   match="/projects/acme/desk", times=2)
    report = sync(ws, "gitlab", projects=["acme/desk"])
    assert report.new == 5
    lookups = desk.requests_to(r"/projects/acme/desk$")
    assert [r.status for r in lookups] == [status, status, 200]


def test_the_first_request_of_a_membership_sync_and_of_add_url_are_retried(desk, ws):
    desk.fail_next(status=502, retry_after=None, match="/api/v4/projects", times=1)
    assert sync(ws, "gitlab").new == 5
    assert [r.status for r in desk.requests_to(r"^/api/v4/projects$")][:2] == [502, 200]
    desk.fail_next(status=503, retry_after=None, match="/projects/acme/desk", times=1)
    url = f"{desk.url}/acme/desk/-/issues/2"
    assert resolve_ticket(ws, url).title == "Question 1"


def test_a_lookup_that_keeps_failing_gives_up_with_one_line(desk, ws, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(gitlab_source.time, "sleep", waits.append)
    desk.fail_next(status=500, retry_after=None, match="/projects/acme/desk", times=50)
    with pytest.raises(SourceError, match=r"failed on project acme/desk \(500") as failed:
        sync(ws, "gitlab", projects=["acme/desk"])
    assert "(500 500" not in str(failed.value)  # the status is said once
    assert len(desk.requests_to(r"/projects/acme/desk$")) == FIRST_RETRIES + 1
    assert waits == [0.1 * 2**n for n in range(FIRST_RETRIES)]
