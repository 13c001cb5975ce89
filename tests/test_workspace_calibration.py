"""The judge calibrated on the workspace's own threads and docs: who abstains afterwards."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from understudy.cli import app
from understudy.demo import load_sample
from understudy.evaluate.workspace_calibration import (
    Case,
    choose_threshold,
    fit_map,
    rephrasing,
    split_quality,
)
from understudy.evidence import Evidence
from understudy.judge import (
    SEMEVAL_DEFAULT,
    Calibration,
    Judge,
    calibration_path,
    load_calibration,
    margin,
)
from understudy.records import Message, Thread
from understudy.workspace import Workspace

runner = CliRunner()

ANSWERABLE = [  # rephrasings of problems the sample's team has answered
    "Recurring invoices stopped being created after we moved servers",
    "Generated invoice PDF shows boxes instead of Cyrillic letters",
    "tally sync fails: certificate verify failed, self signed certificate in chain",
]
UNANSWERABLE = [  # nothing in the sample answers these
    "How do I configure horizontal pod autoscaling for a Redis cluster on Kubernetes?",
    "npm install fails with EACCES permission denied in /usr/local/lib/node_modules",
    "What is the best recipe for sourdough bread with rye flour?",
    "cargo build fails with linker cc not found on Alpine",
]


def _ticket(text: str) -> Thread:
    return Thread("test", text[:30], "", text, messages=[
        Message("q", "customer", text, "", kind="question", text=text)])


def _abstains(ws: Workspace, judge: Judge, text: str) -> bool:
    answerer = ws.answerer()
    return judge.before_compose(answerer.evidence(_ticket(text)), generates=False).abstained


def test_calibrate_on_sample_abstains_where_the_answer_is_missing(workspace, home):
    load_sample(workspace)
    workspace.index.build()
    before = [_abstains(workspace, Judge(SEMEVAL_DEFAULT), t) for t in UNANSWERABLE]
    workspace.close()
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fit = json.loads(result.output)
    assert fit["stored"] and fit["calibration"]["name"] == "workspace"
    assert fit["calibration"]["embedding_model"] and fit["calibration"]["fitted_at"]
    assert "answered threads" in fit["calibration"]["source"]
    # The margin is weighed exactly when it judged half of the cases better, fitted on the rest.
    assert (fit["calibration"]["c"] > 0) == (fit["split_with_margin"] > fit["split_score_only"])
    ws = Workspace(home)
    ws.index.use_encoder(workspace.index.embedder)
    judge = ws.answerer().judge
    assert judge.calibration.name == "workspace" and judge.threshold == fit["calibration"][
        "threshold"]
    # The public default answers tickets the knowledge base cannot answer; the workspace's own
    # calibration abstains on every one and still answers the answerable ones.
    assert not all(before)
    assert all(_abstains(ws, judge, t) for t in UNANSWERABLE)
    assert not any(_abstains(ws, judge, t) for t in ANSWERABLE)
    draft = ws.answerer().draft(_ticket(UNANSWERABLE[0]), save=False)
    assert draft.abstained and "No confident answer" in draft.text
    ws.close()
    result = runner.invoke(app, ["--home", str(home), "models"], catch_exceptions=False)
    assert "Confidence calibration: workspace (this workspace" in result.output


def test_first_index_calibrates_once(workspace, home):
    load_sample(workspace)
    workspace.close()
    result = runner.invoke(app, ["--home", str(home), "index"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Calibrated confidence on this workspace" in result.output
    stored = load_calibration(home, "")
    assert stored.name == "workspace"
    result = runner.invoke(app, ["--home", str(home), "index"], catch_exceptions=False)
    assert "Calibrated" not in result.output
    assert load_calibration(home, "").fitted_at == stored.fitted_at


def test_docs_only_workspace_without_synthetic_questions_keeps_the_default(workspace, home):
    from understudy.demo import SAMPLE_DIR

    workspace.close()
    result = runner.invoke(app, ["--home", str(home), "sync", "docs", str(SAMPLE_DIR / "docs")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--json",
                                 "--target", "0.9"], catch_exceptions=False)
    assert result.exit_code == 2 and "jobs synth-qa" in result.output, result.output
    assert load_calibration(home, "any").name == "semeval-default"


def test_docs_only_workspace_with_synthetic_questions_is_asked(workspace, home):
    from understudy.demo import SAMPLE_DIR
    from understudy.jobs.synth_qa import state_key

    workspace.close()
    runner.invoke(app, ["--home", str(home), "sync", "docs", str(SAMPLE_DIR / "docs")],
                  catch_exceptions=False)
    ws = Workspace(home)
    passage = next(p for p in ws.store.passages() if p.text.strip())
    ws.store.set_state(state_key(passage), {"hash": passage.content_hash(), "pairs": [
        {"question": f"What does {passage.heading or passage.path} say?", "answer": "x"}]})
    ws.close()
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--json"],
                           catch_exceptions=False)
    # Asked, not refused up front: a fit, or a reason other than the missing questions.
    assert "jobs synth-qa" not in result.output, result.output


def test_empty_workspace_keeps_the_semeval_default(home):
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate"])
    assert result.exit_code == 2 and "Nothing to calibrate on" in result.output
    assert not calibration_path(home).exists()
    assert load_calibration(home, "any").name == "semeval-default"


def test_threshold_is_the_lowest_reaching_the_target_precision():
    cases = [Case("thread-out", str(i), s, False) for i, s in enumerate((0.3, 0.4, 0.5, 0.6))]
    cases += [Case("thread-in", str(i), s, True) for i, s in enumerate((0.55, 0.7, 0.8, 0.9))]
    threshold, reached, report = choose_threshold(cases, 0.8)
    # At 0.55: right 4/4 and wrong 1/4 answered, weighted precision 0.8.
    assert reached and threshold == 0.55 and report["wrong_abstained"] == 0.75
    threshold, reached, _ = choose_threshold(cases, 0.9)
    assert reached and threshold == 0.7
    a, c, b = fit_map(cases)
    # Margins all 0: nothing to weigh, so the map is of the score alone.
    assert a > 0 and c == 0.0 and 1 / (1 + 2.718281828 ** -(a * 0.9 + b)) > 0.5


def _evidence(key: str, score: float, thread_id: int | None) -> Evidence:
    return Evidence(key, "reply" if thread_id else "passage", "text", key, "", score, score,
                    thread_id=thread_id)


def test_margin_is_the_lead_over_another_thread_or_passage():
    same_thread = [_evidence("reply:1", 0.8, 7), _evidence("reply:2", 0.8, 7),
                   _evidence("reply:3", 0.6, 9)]
    assert margin(same_thread) == pytest.approx(0.2)
    passages = [_evidence("passage:1", 0.7, None), _evidence("passage:2", 0.65, None)]
    assert margin(passages) == pytest.approx(0.05)
    assert margin([_evidence("reply:1", 0.5, 7)]) == pytest.approx(0.5)
    # At one score, the ticket whose best evidence stands out is the surer one.
    judge = Judge(Calibration(8.0, -6.0, 0.5, "t", "t", c=5.0))
    assert judge.confidence(same_thread) > judge.confidence(
        [_evidence("reply:1", 0.8, 7), _evidence("reply:3", 0.78, 9)])


def test_margin_is_weighed_where_it_separates_what_the_score_cannot():
    # Right and wrong cases share their scores; only the right ones stand out from the next.
    cases = [Case("passage-in", f"in{i}", 0.5 + 0.02 * i, True, 0.3 + 0.01 * i)
             for i in range(20)]
    cases += [Case("passage-out", f"out{i}", 0.5 + 0.02 * i, False, 0.02 + 0.005 * i)
              for i in range(20)]
    assert split_quality(cases, 0.9, 2) > split_quality(cases, 0.9, 1)
    a, c, _ = fit_map(cases)
    assert c > 0 and fit_map(cases, with_margin=False)[1] == 0.0
    value, reached, report = choose_threshold(cases, 0.9, by=(a, c))
    assert reached and report["right_answered"] == 1.0 and report["wrong_abstained"] >= 0.85
    _, reached, _ = choose_threshold(cases, 0.9)  # the score alone cannot tell them apart
    assert not reached


def test_a_calibration_stored_before_the_margin_still_loads(home):
    path = calibration_path(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"a": 9.0, "b": -6.0, "threshold": 0.5, "name": "workspace",
                                "source": "older"}), encoding="utf-8")
    stored = load_calibration(home, "")
    assert stored.c == 0.0 and stored.confidence(0.7, margin=0.4) == stored.confidence(0.7)


def test_a_rephrasing_keeps_some_of_the_words_the_same_way_every_time():
    title = "Recurring invoices stopped being created after we moved the server to a new host"
    words = rephrasing(title, "thread:7").split()
    assert words == rephrasing(title, "thread:7").split()
    assert 0 < len(words) < len(title.split()) and set(words) <= set(title.split())
    assert rephrasing("invoices", "thread:8") == "invoices"  # never empty


def test_synthetic_questions_replace_the_passage_probes_and_count_their_page(workspace, home):
    """With `jobs synth-qa` questions stored, a docs workspace is asked those questions only
    (a passage's own first sentence finds it at a score no user's question reaches); held in,
    evidence from the question's page is right; held out, the whole page is left out."""
    from understudy.answer import Answerer
    from understudy.demo import SAMPLE_DIR
    from understudy.evaluate.workspace_calibration import passage_cases
    from understudy.jobs.synth_qa import state_key

    workspace.close()
    runner.invoke(app, ["--home", str(home), "sync", "docs", str(SAMPLE_DIR / "docs")],
                  catch_exceptions=False)
    ws = Workspace(home)
    passages = [p for p in ws.store.passages() if p.text.strip()]
    target = passages[0]
    page = [p for p in passages if p.url.split("#")[0] == target.url.split("#")[0]]
    ws.store.set_state(state_key(target), {"hash": target.content_hash(), "pairs": [
        {"question": target.heading or target.path, "answer": "x"}]})
    ws.index.build()
    cases, _ = passage_cases(ws, Answerer(ws))
    assert sorted(c.kind for c in cases) == ["synthetic-in", "synthetic-out"]
    held_in = next(c for c in cases if c.kind == "synthetic-in")
    assert held_in.right and held_in.key == f"passage:{target.id}"
    # Held out, nothing of its page may be found: the evidence would count as right otherwise.
    answerer = Answerer(ws)
    from understudy.evaluate.workspace_calibration import _ticket, _Without

    keys = {f"passage:{p.id}" for p in page}
    out = answerer.evidence(_ticket(target.heading or target.path, ""),
                            retriever=_Without(answerer, keys))
    assert all(e.key not in keys for e in out)
    ws.close()


def test_a_docs_only_workspace_calibrates_after_synth_qa_and_abstains_off_topic(home,
                                                                               openai_server):
    """The docs-only path end to end: `jobs synth-qa` (against the local OpenAI-compatible
    server) stores a question per passage, `eval calibrate` then fits the workspace's own map
    from them, and a ticket about something the docs never cover abstains under it."""
    from understudy.demo import SAMPLE_DIR

    result = runner.invoke(app, ["--home", str(home), "sync", "docs", str(SAMPLE_DIR / "docs")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ws = Workspace(home)
    passages = ws.store.passages()
    ws.close()
    for passage in passages:  # the job asks for questions, then for each one's answer
        topic = (passage.heading or passage.path).replace(" > ", ", ")
        openai_server.enqueue(json.dumps({"questions": [f"How do I handle {topic}?"]}),
                              json.dumps({"answer": "As the passage says [1]."}))
    result = runner.invoke(app, ["--home", str(home), "jobs", "synth-qa", "--model",
                                 "gpt-4o-mini", "--questions", "1", "--yes"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--home", str(home), "eval", "calibrate", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fit = json.loads(result.stdout)
    assert fit["reached"] and fit["cases"] == 2 * len(passages)
    stored = load_calibration(home, "")
    assert stored.name == "workspace" and "0 answered threads" in stored.source
    # About a neighbouring product: the SemEval default answers it, the docs' own fit does not.
    question = "Grafana dashboard shows no data after upgrading Prometheus"
    ws = Workspace(home)
    ranked = ws.answerer().evidence(Thread("t", question, "", question, messages=[
        Message("q", "customer", question, "", kind="question", text=question)]))
    assert not Judge(SEMEVAL_DEFAULT).before_compose(ranked, generates=False).abstained
    ws.close()
    ticket = home / "ticket.md"
    ticket.write_text(f"# {question}\n\n{question}.\n")
    result = runner.invoke(app, ["--home", str(home), "answer", "--json", str(ticket)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [draft] = json.loads(result.stdout)
    assert draft["abstained"], draft
