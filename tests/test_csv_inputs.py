"""Bad CSV input costs only itself: open quotes, odd times and ids are reported rows."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from understudy.cli import app
from understudy.sources import sync
from understudy.sources.conversations import ConversationsSource
from understudy.workspace import Workspace

GENERIC = "conversation_id,author,role,created_at,text\n"
TWCS = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"


def _row(*fields: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


def _good_rows(count: int) -> list[str]:
    return [_row(f"c{n % 7}", f"user{n}", "agent" if n % 3 == 0 else "customer",
                 f"2024-05-{1 + n % 28:02d}T10:{n % 60:02d}:00Z", f"message {n}, all fine")
            for n in range(count)]


def _bodies(ws: Workspace) -> list[str]:
    return sorted(m.body for t in ws.store.threads(source="csv") for m in t.messages)


def test_an_open_quote_costs_only_its_own_row(tmp_path, ws):
    rows = _good_rows(40)
    # Line 23 of the file (the header is line 1): its text opens a quote it never closes.
    rows.insert(21, 'c3,eve,customer,2024-05-02T11:00:00Z,"I typed a quote and then\n')
    path = tmp_path / "chats.csv"
    path.write_text(GENERIC + "".join(rows))
    report = sync(ws, "csv", path=str(path))
    assert report.problems == ["line 23: unterminated quote; the row was skipped"]
    assert report.skipped == 1
    assert _bodies(ws) == sorted(f"message {n}, all fine" for n in range(40))


def test_a_quote_left_open_is_not_closed_by_a_later_row(tmp_path, ws):
    rows = _good_rows(10)
    rows.insert(3, 'c1,eve,customer,2024-05-02T11:00:00Z,"never closed\n')
    rows.insert(6, _row("c2", "ann", "customer", "2024-05-03T11:00:00Z", 'a "quoted",\nline'))
    path = tmp_path / "chats.csv"
    path.write_text(GENERIC + "".join(rows))
    report = sync(ws, "csv", path=str(path))
    assert report.problems == ["line 5: unterminated quote; the row was skipped"]
    assert 'a "quoted",\nline' in _bodies(ws)
    assert len(_bodies(ws)) == 11


def test_an_open_quote_on_the_last_line_is_reported(tmp_path, ws):
    path = tmp_path / "chats.csv"
    path.write_text(GENERIC + "".join(_good_rows(5)) + 'c1,eve,customer,,"no end')
    report = sync(ws, "csv", path=str(path))
    assert report.problems == ["line 7: unterminated quote; the row was skipped"]
    assert len(_bodies(ws)) == 5


BAD_TWCS = [
    ("²", "True", "Tue Oct 31 21:45:10 +0000 2017", "tweet_id '²' is not a number"),
    ("9" * 5000, "True", "Tue Oct 31 21:45:10 +0000 2017", "is not a number"),
    ("", "True", "Tue Oct 31 21:45:10 +0000 2017", "tweet_id '' is not a number"),
    ("41", "True", "0001-01-01T00:00:00+01:00", "created_at '0001-01-01T00:00:00+01:00'"),
    ("42", "True", "9999-12-31T23:59:59-01:00", "is not a time"),
    ("43", "True", "Mon Jan 01 00:30:00 +0100 0001", "is not a time"),
    ("44", "True", "", "created_at '' is not a time"),
    ("45", "", "Tue Oct 31 21:45:10 +0000 2017", "inbound '' is neither"),
]


def test_odd_times_and_ids_are_reported_rows_not_tracebacks(tmp_path, ws):
    good = [_row("1", "115712", "True", "Tue Oct 31 21:45:10 +0000 2017", "@Acme help", "2", ""),
            _row("2", "Acme", "False", "Tue Oct 31 21:50:00 +0000 2017", "@115712 sure", "",
                 "1")]
    bad = [_row(tweet, "115713", inbound, when, "some text", "", "")
           for tweet, inbound, when, _ in BAD_TWCS]
    path = tmp_path / "twcs.csv"
    path.write_text(TWCS + good[0] + "".join(bad) + good[1])
    result = CliRunner().invoke(app, ["sync", "csv", str(path), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new"] == 1 and report["skipped"] == len(BAD_TWCS)
    for problem, (*_, why) in zip(report["problems"], BAD_TWCS, strict=True):
        assert why in problem and problem.endswith("; the row was skipped")
    thread = ws.store.find_thread("twcs", "1")
    assert [m.body for m in thread.messages] == ["@Acme help", "@115712 sure"]


def test_generic_times_out_of_range_are_reported(tmp_path, ws):
    path = tmp_path / "chats.csv"
    path.write_text(GENERIC + _row("c1", "sam", "customer", "0001-01-01T00:00:00+01:00", "hi")
                    + _row("c1", "lee", "agent", "2024-01-01T00:00:00Z", "hello"))
    report = sync(ws, "csv", path=str(path))
    assert report.problems == ["line 2: time '0001-01-01T00:00:00+01:00' is not an ISO date "
                               "or time; the row was skipped"]
    assert _bodies(ws) == ["hello"]


# -- the no-loss property --------------------------------------------------------------

# Good texts: commas, quotes, line breaks, no digits (a time in the right column is what
# marks a row, so text without one is never mistaken for a row).
_TEXT = st.text(alphabet=st.sampled_from(list("abc xyz,\"'\n;")), max_size=40)
_BAD = st.sampled_from([
    'cX,eve,customer,2024-05-02T11:00:00Z,"an open quote\n',
    'cX,eve,customer,2024-05-02T11:00:00Z,"an open quote, and more\nover two lines\n',
    "cX,eve,customer,0001-01-01T00:00:00+01:00,year one east of UTC\n",
    "cX,eve,customer,9999-12-31T23:59:59-01:00,past the last year\n",
    "cX,eve,pirate,2024-05-02T11:00:00Z,an unknown role\n",
    ",eve,customer,2024-05-02T11:00:00Z,no conversation id\n",
    "cX,eve,customer,2024-05-02T11:00:00Z,too,many,fields\n",
    "cX,eve\n",
    "cX,eve,customer,²,a digit that is not one\n",
    "cX,eve,customer,2024-05-02T11:00:00Z,\n",
])


@st.composite
def _files(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A generic CSV of good rows with bad rows anywhere among them; the good texts."""
    lines, good = [], []
    for n in range(draw(st.integers(1, 12))):
        for _ in range(draw(st.integers(0, 2))):
            lines.append(draw(_BAD))
        text = f"row-{chr(97 + n)} " + draw(_TEXT)
        role = draw(st.sampled_from(["customer", "agent", ""]))
        lines.append(_row(f"c{n % 3}", "sam", role, f"2024-05-01T10:{n:02d}:00Z", text))
        good.append(text.strip())
    lines += [draw(_BAD) for _ in range(draw(st.integers(0, 2)))]
    return GENERIC + "".join(lines), good


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_files())
def test_every_good_row_arrives_whatever_bad_rows_surround_it(tmp_path, file):
    content, good = file
    path = tmp_path / "fuzz.csv"
    path.write_text(content, encoding="utf-8")
    source = ConversationsSource({}, None)
    threads = list(source.fetch(path=str(path)))
    bodies = [m.body for t in threads for m in t.messages]
    assert set(good) <= set(bodies)  # every good row arrives, as itself
    # Anything else is a bad row's own text, never a good row merged into a blob.
    assert all("row-" not in b for b in bodies if b not in good)
    assert source.skipped >= 1 or len(bodies) == len(good)
