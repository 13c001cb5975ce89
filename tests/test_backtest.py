"""Backtest on the team's own tickets: time-respecting knowledge, scores, trade-off, reports."""

from __future__ import annotations

import json

import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app
from understudy.evaluate.backtest import (
    Backtest,
    Selection,
    linked_threads,
    select_threads,
    thread_before,
)
from understudy.evaluate.judge import parse_rating
from understudy.evaluate.report import summarize, write_report
from understudy.evaluate.scores import coverage_curve, lcs_length, rouge_l, threshold_for
from understudy.records import Message

runner = CliRunner()

PRINTER = "Printer drivers fail to install on the laptop"
PRINTER_Q = "The printer driver installer stops with error 1603 on my laptop."


def test_rouge_l_by_hand():
    # "the cat sat on the mat" vs "the cat lay on the mat": LCS "the cat on the mat" = 5 of 6.
    assert lcs_length("a b c d".split(), "a c d b".split()) == 3
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat") == pytest.approx(5 / 6)
    # candidate 2 words, reference 4, LCS 2: P = 1, R = 0.5, F = 2/3.
    assert rouge_l("police killed", "police killed the gunman") == pytest.approx(2 / 3)
    assert rouge_l("", "anything") == 0.0


def test_coverage_curve_and_target_by_hand():
    curve = coverage_curve([0.9, 0.8, 0.8, 0.2], [1.0, 0.5, 0.0, 0.0])
    assert [(p.threshold, p.coverage, p.answered) for p in curve] == [
        (0.2, 1.0, 4), (0.8, 0.75, 3), (0.9, 0.25, 1)]
    assert [p.quality for p in curve] == pytest.approx([0.375, 0.5, 1.0])
    assert threshold_for(curve, 0.5).threshold == 0.8
    assert threshold_for(curve, 0.3).threshold == 0.2
    assert threshold_for(curve, 1.1) is None


def test_judge_rating_parse():
    assert parse_rating("SCORE: 4\nSame fix, one step short.") == (4, "Same fix, one step short.")
    assert parse_rating("I cannot rate this")[0] is None


def test_thread_before_drops_later_and_undated_replies():
    thread = make_thread(1, "t", "q", [("ann", "early", True), ("bob", "late", True)])
    thread.messages[2].created_at = "2024-03-01T00:00:00Z"
    thread.messages.append(Message("x", "cy", "undated", "", kind="reply", is_team=True))
    kept = thread_before(thread, "2024-02-01T00:00:00Z")
    assert [m.body for m in kept.messages] == ["q", "early"]


def test_links_and_duplicates_are_found():
    earlier = [make_thread(n, f"t{n}", "q") for n in (3, 4, 5, 6)]
    for n, t in enumerate(earlier, start=1):
        t.id = n
    ticket = make_thread(9, "t9", "q", [
        ("ann", "See #3 and https://gitlab.example.com/acme/app/-/issues/4.", True),
        ("cust", "What about #5?", False),
    ])
    ticket.messages.append(Message("s", "ann", "marked this issue as a duplicate of #6", "",
                                   kind="system"))
    ticket.id = 9
    assert linked_threads(ticket, earlier) == {1, 2, 4}


def _seed(store):
    """An early printer thread answered only AFTER the later ticket was opened, so a
    time-respecting backtest cannot use that answer, and an unrelated early thread."""
    early = make_thread(1, PRINTER, PRINTER_Q, [("ann", "Run the installer as administrator "
                        "after removing the old spooler driver.", True)],
                        created_at="2024-01-01T10:00:00Z")
    early.messages[1].created_at = "2024-03-01T10:00:00Z"  # answered two months later
    other = make_thread(2, "Change the invoice logo", "How do I upload a new logo for invoices?",
                        [("bob", "Settings > Branding > Logo; PNG up to 1 MB.", True)],
                        created_at="2024-01-05T10:00:00Z")
    later = make_thread(3, "Printer driver install error 1603",
                        "Installing the printer driver on a laptop fails with error 1603.",
                        [("ann", "Remove the old spooler driver, then run the installer as "
                          "administrator; see #1.", True)],
                        created_at="2024-02-01T10:00:00Z")
    future = make_thread(4, "Printer driver error 1603 again", PRINTER_Q,
                         [("ann", "Run the installer as administrator after removing the old "
                           "spooler driver.", True)], created_at="2024-04-01T10:00:00Z")
    for thread in (early, other, later, future):
        store.upsert_thread(thread)
    return {t.external_id: t for t in store.threads()}


def test_backtest_never_sees_the_future(workspace):
    threads = _seed(workspace.store)
    later = threads["acme/app#3"]
    bt = Backtest(workspace)
    case = bt.case(later)
    used = {s["thread_id"] for s in case.sources}
    # Thread 1 was opened before but answered after: leaking its answer would make it the
    # best source; thread 4 is from the future; the ticket itself is never used.
    assert used == {threads["acme/app#2"].id}
    assert "administrator" not in case.draft
    assert case.linked == []  # #1 had no answer yet, so no hit was possible
    assert case.source_hit is None
    # Answered as of a later moment, the printer answer is there and is the best source.
    future = threads["acme/app#4"]
    case4 = bt.case(future)
    assert case4.sources[0]["thread_id"] in {threads["acme/app#1"].id, later.id}
    assert "administrator" in case4.draft
    assert case4.similarity > case.similarity
    assert case4.rouge_l > case.rouge_l


def test_backtest_is_cached_and_read_only(workspace):
    _seed(workspace.store)
    before = workspace.store.threads()
    drafts = len(workspace.store.drafts())
    cases = Backtest(workspace).run(Selection(limit=2))
    assert [c.external_id for c in cases] == ["acme/app#3", "acme/app#4"]
    lines = (workspace.home / "backtests" / "cache.jsonl").read_text().splitlines()
    again = Backtest(workspace).run(Selection(limit=2))
    assert [c.to_json() for c in again] == [c.to_json() for c in cases]
    assert len((workspace.home / "backtests" / "cache.jsonl").read_text().splitlines()) == len(
        lines)
    assert list(workspace.store.threads()) == list(before)
    assert len(workspace.store.drafts()) == drafts


def test_selection_filters():
    threads = [make_thread(n, "t", "q", [("ann", "a real answer here", True)], project=p)
               for n, p in ((1, "a/x"), (2, "a/y"), (3, "a/x"), (4, "a/x"))]
    threads.append(make_thread(5, "t", "q"))  # no team reply: never backtested
    for n, t in enumerate(threads, start=1):
        t.id = n
        for m in t.messages:
            m.text = m.body  # as the store derives it
    chosen = select_threads(threads, Selection(limit=2, projects=["a/x"]))
    assert [t.id for t in chosen] == [3, 4]
    assert [t.id for t in select_threads(threads, Selection(limit=9, since="2024-01-03",
                                                            until="2024-01-04"))] == [2, 3]


def test_report_files_and_summary(workspace):
    _seed(workspace.store)
    cases = Backtest(workspace).run(Selection(limit=3))
    summary = summarize(cases, "similarity", target=0.0, threshold=0.5)
    assert summary["threads"] == 3
    assert summary["target"]["reached"] and summary["target"]["coverage"] == 1.0
    info = {"workspace": str(workspace.home), "backend": "retrieval", "model": "m",
            "date": "2025-01-01T00:00:00Z", "command": "understudy eval backtest",
            "data": "3 threads"}
    folder = write_report(workspace.home, info, cases, summary)
    text = (folder / "report.md").read_text()
    for needle in (str(workspace.home), "retrieval", "2025-01-01", "understudy eval backtest",
                   "3 threads"):
        assert needle in text
    for name in ("coverage.png", "scores.png", "sources.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((folder / "report.json").read_text())["summary"]["threads"] == 3


def test_cli_backtest_json_and_calibrate(workspace, home):
    _seed(workspace.store)
    workspace.close()
    result = runner.invoke(app, ["--home", str(home), "eval", "backtest", "--limit", "3",
                                 "--json", "--no-report"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["summary"]["threads"] == 3 and len(document["cases"]) == 3
    lowest = document["summary"]["curve"][0]
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--limit", "3",
                                 "--metric", "similarity", "--target", "0", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["threshold"] == lowest["threshold"]
    settings = json.loads((home / "settings.json").read_text())
    assert settings["abstain_threshold"] == lowest["threshold"]
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--limit", "3",
                                 "--metric", "similarity", "--target", "1.0"])
    assert result.exit_code == 2 and "lower --target" in result.output


def test_cli_backtest_bad_input(home):
    result = runner.invoke(app, ["--home", str(home), "eval", "backtest", "--metric", "nope"])
    assert result.exit_code == 2 and "Unknown metric" in result.output


def _outcome(case) -> tuple:
    # A re-synced thread stores its messages anew: reply keys change, the rest must not.
    sources = [{k: v for k, v in s.items() if k != "key"} for s in case.sources]
    return (case.draft, case.confidence, case.abstained, sources, case.linked,
            case.source_hit, case.similarity, case.rouge_l, case.reference)


def test_a_future_reply_and_a_posted_draft_change_nothing(workspace, tmp_path):
    threads = _seed(workspace.store)
    later = threads["acme/app#3"]
    before = _outcome(Backtest(workspace).case(later))
    # A reply to the invoice thread written after the ticket was opened, that would be the
    # best answer to it; and an understudy draft posted on the same thread in time, by the
    # configured bot account and carrying the send marker, linking the printer thread.
    other = threads["acme/app#2"]
    other.messages.append(Message(
        "201", "bob", "Printer driver error 1603 on a laptop: remove the old spooler driver, "
        "then run the installer as administrator.", "2024-02-15T10:00:00Z", is_team=True))
    other.messages.append(Message(
        "202", "understudy-bot", "Printer driver error 1603: run the installer as "
        "administrator, see #1.\n<!-- understudy-draft:2:7 -->", "2024-01-20T10:00:00Z",
        is_team=True))
    workspace.store.upsert_thread(other)
    # The ticket itself got a posted draft before the team's reply, linking thread #2.
    later.messages.insert(1, Message(
        "299", "understudy-bot", "Printer driver error 1603: see #2.\n"
        "<!-- understudy-draft:3:8 -->", "2024-02-01T10:30:00Z", is_team=True))
    workspace.store.upsert_thread(later)
    workspace.settings.set("bot_account", "understudy-bot")
    threads = {t.external_id: t for t in workspace.store.threads()}
    again = Backtest(workspace).case(threads["acme/app#3"])
    assert _outcome(again) == before
    assert "1603" not in again.draft


def test_a_thread_answered_only_by_a_posted_draft_is_not_backtested():
    posted = make_thread(1, "t", "q", [("understudy-bot", "Try this.\n<!-- understudy-draft:1:1 "
                                        "-->", True)])
    posted.id = 1
    assert select_threads([posted], Selection(limit=5)) == []


def test_the_time_bounded_retriever_hands_the_ranker_only_the_past(workspace):
    threads = _seed(workspace.store)
    early = threads["acme/app#1"]
    early.messages.append(Message("102", "understudy-bot", "Posted.\n<!-- understudy-draft:1:1 "
                                  "-->", "2024-01-02T10:00:00Z", is_team=True))
    workspace.store.upsert_thread(early)
    bt = Backtest(workspace)
    cutoff = threads["acme/app#3"].created_at
    view = bt.index.at(cutoff, bt.index.items_at(cutoff, set()))
    seen = view.threads([early.id, threads["acme/app#4"].id])
    # The printer answer came after the cutoff and the posted draft is understudy's own: the
    # ranker would read the question alone; thread 4 was opened later and is not there.
    assert list(seen) == [early.id]
    assert [m.kind for m in seen[early.id].messages] == ["question"]


def test_the_backtest_encodes_tickets_as_queries(workspace, monkeypatch):
    """Tickets are queries and knowledge items passages, as the index encodes them (e5 puts
    "query: " before a ticket): a backtest that encoded tickets as passages would measure
    another search than the one that answers."""
    _seed(workspace.store)
    encoder = workspace.index.embedder
    encode = encoder.encode
    kinds = []

    def spy(texts, kind="passage", **options):  # noqa: ANN001, ANN003, ANN202
        kinds.append((kind, len(texts)))
        return encode(texts, kind=kind, **options)

    monkeypatch.setattr(encoder, "encode", spy)
    cases = Backtest(workspace).run(Selection(limit=3))
    assert len(cases) == 3
    queries = [n for kind, n in kinds if kind == "query"]
    assert queries and all(n == 1 for n in queries)  # one ticket at a time
    assert any(kind == "passage" for kind, _ in kinds)  # the items, and draft similarity
