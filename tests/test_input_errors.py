"""Bad URLs, ids and dates given on the command line: one clear line, never a traceback."""

from __future__ import annotations

import pytest
from factories import run_cli

from understudy.dates import option_date, parse_when, utc_stamp
from understudy.errors import InputError, UsageError
from understudy.sources import check_url
from understudy.sources.github import parse_issue_url as github_issue
from understudy.sources.gitlab import parse_issue_url as gitlab_issue
from understudy.sources.gitlab import parse_since

YEAR_ONE_EAST = "0001-01-01T00:00:00+01:00"
YEAR_9999_WEST = "9999-12-31T23:59:59-01:00"


def _one_line_error(code: int, out: str, err: str, expected_code: int = 1) -> str:
    assert code == expected_code, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


@pytest.mark.parametrize("url,why", [
    ("http://[...", "Invalid IPv6 URL"),
    ("https://[::1/acme/app/-/issues/1", "Invalid IPv6 URL"),
    ("https://gitlab.example.com:99999/acme/app/-/issues/1", "Port out of range"),
    ("https://gitlab.example.com:port/acme/app/-/issues/1", "not a valid URL"),
    ("https:///acme/app/-/issues/1", "has no host"),
])
@pytest.mark.parametrize("command", ["add", "answer"])
def test_unparsable_urls_are_one_line(monkeypatch, command, url, why):
    line = _one_line_error(*run_cli(monkeypatch, command, url))
    assert why in line and "issues/42" in line


def test_url_parsers_return_none_instead_of_raising():
    for url in ("http://[...", "https://h:99999/a/b/-/issues/1", "https://[x]/a/b/issues/2",
                "https://gitlab.com/a/b/-/issues/" + "9" * 5000):
        assert gitlab_issue(url) is None
        assert github_issue(url.replace("/-/", "/")) is None
    with pytest.raises(InputError, match="spaces or control characters"):
        check_url("https://gitlab.com/a b/-/issues/1")
    assert check_url("https://gitlab.com/a/b/-/issues/1")


@pytest.mark.parametrize("args", [
    ["sync", "gitlab", "--since", YEAR_ONE_EAST],
    ["sync", "github", "--since", YEAR_9999_WEST],
    ["sync", "gitlab", "--since", "yesterday"],
    ["dataset", "build", "--since", YEAR_ONE_EAST],
    ["dataset", "build", "--until", "2024-13-45"],
    ["eval", "backtest", "--since", YEAR_ONE_EAST],
    ["eval", "backtest", "--until", "soon"],
])
def test_dates_out_of_range_or_unreadable_are_one_line(monkeypatch, args):
    line = _one_line_error(*run_cli(monkeypatch, *args), expected_code=2)
    assert args[-1][:20] in line and f"give {args[-2]} as YYYY-MM-DD" in line


def test_ids_past_sqlite_integers_are_not_found(monkeypatch):
    line = _one_line_error(*run_cli(monkeypatch, "send", str(2**63), "--yes"))
    assert f"No draft {2**63}" in line
    line = _one_line_error(*run_cli(monkeypatch, "send", "9" * 40, "--yes"))
    assert "No draft" in line
    line = _one_line_error(*run_cli(monkeypatch, "serve", "token", "revoke", str(2**64)))
    assert "No live token" in line


def test_add_file_with_bad_paths_and_bytes(monkeypatch, tmp_path):
    line = _one_line_error(*run_cli(monkeypatch, "add", "ticket\0.md"))
    assert "NUL" in line
    binary = tmp_path / "ticket.md"
    binary.write_bytes(b"\xff\xfe\x00broken")
    assert "not UTF-8" in _one_line_error(*run_cli(monkeypatch, "add", str(binary)))
    blank = tmp_path / "blank.md"
    blank.write_text(" \n\x0b\n")
    assert "is empty" in _one_line_error(*run_cli(monkeypatch, "add", str(blank)))


def test_dates_are_parsed_into_utc_or_refused():
    assert utc_stamp("2024-05-01T10:00:00+02:00") == "2024-05-01T08:00:00Z"
    assert utc_stamp("2024-05-01") == "2024-05-01T00:00:00Z"
    assert parse_when("2024-05-01T10:00:00z").tzinfo is not None
    for bad in (YEAR_ONE_EAST, YEAR_9999_WEST, "", "²", "2024-05-01" + "0" * 100, "12:00"):
        assert utc_stamp(bad) is None, bad
    assert option_date("2024-05-01", "--since") == "2024-05-01"  # a day stays a day
    assert option_date("2024-05-01T10:00:00+02:00", "--until") == "2024-05-01T08:00:00Z"
    assert option_date(None, "--since") is None
    with pytest.raises(UsageError, match="give --until as"):
        option_date(YEAR_9999_WEST, "--until")
    assert parse_since("2024-05-01") == "2024-05-01T00:00:00Z"
