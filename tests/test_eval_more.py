"""More public benchmarks: SemEval subtask A, CovidFAQ, a user's own JSONL set, model systems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from understudy.cli import app
from understudy.evaluate.bench import load_benchmark, run_bench
from understudy.evaluate.metrics import average_precision, official_average_precision

runner = CliRunner()

# One related question with three comments in posting order: Bad, Good, Good for itself.
TINY_A = """<?xml version="1.0" encoding="utf-8"?>
<xml><OrgQuestion ORGQ_ID="Q1"><OrgQSubject>Visa</OrgQSubject><OrgQBody>Visit visa?</OrgQBody>
<Thread THREAD_SEQUENCE="Q1_R1"><RelQuestion RELQ_ID="Q1_R1" RELQ_RANKING_ORDER="1"
 RELQ_RELEVANCE2ORGQ="Relevant"><RelQSubject>Family visit visa</RelQSubject>
<RelQBody>How long does a family visit visa take to process?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q1_R1_C1" RELC_RELEVANCE2RELQ="Bad" RELC_RELEVANCE2ORGQ="Bad">
<RelCText>Nice weather today.</RelCText></RelComment>
<RelComment RELC_ID="Q1_R1_C2" RELC_RELEVANCE2RELQ="Good" RELC_RELEVANCE2ORGQ="Good">
<RelCText>A family visit visa takes about a week to process.</RelCText></RelComment>
<RelComment RELC_ID="Q1_R1_C3" RELC_RELEVANCE2RELQ="Good" RELC_RELEVANCE2ORGQ="Bad">
<RelCText>Mine took five days.</RelCText></RelComment></Thread></OrgQuestion>
<OrgQuestion ORGQ_ID="Q2"><OrgQSubject>Visa</OrgQSubject><OrgQBody>Visit visa?</OrgQBody>
<Thread THREAD_SEQUENCE="Q1_R1"><RelQuestion RELQ_ID="Q1_R1" RELQ_RANKING_ORDER="3"
 RELQ_RELEVANCE2ORGQ="Relevant"><RelQSubject>Family visit visa</RelQSubject>
<RelQBody>How long does a family visit visa take to process?</RelQBody></RelQuestion>
</Thread></OrgQuestion></xml>
"""

COVID = [
    {"label": 1, "query_type": "faq", "question": "What is COVID-19?",
     "answer": "COVID-19 is a disease caused by a new coronavirus.", "id": "1"},
    {"label": 1, "query_type": "faq", "question": "What does COVID stand for?",
     "answer": "COVID-19 is a disease caused by a new coronavirus.", "id": "2"},
    {"label": 1, "query_type": "faq", "question": "How do I wash my hands?",
     "answer": "Wash your hands with soap and water for twenty seconds.", "id": "3"},
    {"label": 1, "query_type": "user_query", "question": "how long should I wash hands with soap",
     "answer": "Wash your hands with soap and water for twenty seconds.", "id": "4"},
    {"label": 1, "query_type": "user_query", "question": "what is corona disease",
     "answer": "COVID-19 is a disease caused by a new coronavirus.", "id": "5"},
    {"label": 1, "query_type": "user_query", "question": "what is corona disease",
     "answer": "Wash your hands with soap and water for twenty seconds.", "id": "6"},
]


@pytest.fixture
def tiny_a(tmp_path) -> Path:
    folder = tmp_path / "semeval" / "dev"
    folder.mkdir(parents=True)
    (folder / "tiny-dev.xml").write_text(TINY_A)
    return folder.parent


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def own_set(tmp_path) -> Path:
    folder = tmp_path / "own"
    folder.mkdir()
    _write_jsonl(folder / "queries.jsonl", [{"id": "q1", "text": "reset my password"},
                                            {"id": "q2", "text": "export invoices to csv"},
                                            {"id": "q3", "text": "unjudged query"}])
    _write_jsonl(folder / "documents.jsonl", [
        {"id": "d1", "title": "Password reset", "text": "How to reset a password",
         "answer": "Use the forgot password link to reset your password."},
        {"id": "d2", "text": "Invoices can be exported to CSV from the invoice list."},
        {"id": "d3", "text": "Unrelated text about logos."},
    ])
    _write_jsonl(folder / "relevance.jsonl", [{"query": "q1", "document": "d1"},
                                              {"query": "q2", "document": "d2", "relevance": 2},
                                              {"query": "q2", "document": "d3", "relevance": 0}])
    return folder


def test_subtask_a_queries_comments_and_chronological_baseline(tiny_a):
    bench = load_benchmark("semeval2016", tiny_a, "A")
    assert bench.subtask == "A" and bench.scoring == "semeval"
    [query] = bench.queries  # a related question listed twice is one query
    assert [c.id for c in query.candidates] == ["Q1_R1_C1", "Q1_R1_C2", "Q1_R1_C3"]
    assert query.relevant == {"Q1_R1_C2", "Q1_R1_C3"}
    result = run_bench(bench, ["search-engine", "bm25"])
    # Posting order: Bad, Good, Good -> AP = (1/2 + 2/3) / 2 = 0.5833.
    assert result["search-engine"].metrics["MAP"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert result["search-engine"].metrics["MAP"] == pytest.approx(
        100 * official_average_precision([False, True, True]))
    # BM25 puts the comment that repeats the question's words first.
    assert result["bm25"].rankings["Q1_R1"][0] == "Q1_R1_C2"


def test_covidfaq_groups_answers_and_queries(tmp_path):
    path = tmp_path / "query_answer_pairs.json"
    path.write_text(json.dumps(COVID))
    bench = load_benchmark("covidfaq", tmp_path)
    assert bench.scoring == "retrieval"
    assert len(bench.queries[0].candidates) == 2  # two FAQ entries share one answer
    by_text = {q.text: q for q in bench.queries}
    assert len(by_text) == 2
    assert len(by_text["what is corona disease"].relevant) == 2
    result = run_bench(bench, ["bm25"])["bm25"]
    hands = next(q.id for q in bench.queries if "wash" in q.text)
    # The hand-washing query ranks the hand-washing answer first: AP 1 for it.
    first = result.rankings[hands][0]
    assert first in by_text["how long should I wash hands with soap"].relevant
    assert 0 < result.metrics["MAP"] <= 100


def test_jsonl_set_loads_and_scores_by_hand(own_set):
    bench = load_benchmark("jsonl", own_set)
    assert [q.id for q in bench.queries] == ["q1", "q2"]  # q3 has no relevant document
    assert bench.queries[1].relevant == {"d2"}
    result = run_bench(bench, ["bm25"])["bm25"]
    for query in bench.queries:
        labels = [cid in query.relevant for cid in result.rankings[query.id]]
        assert labels[0], "the only matching document is ranked first"
        assert average_precision(labels, len(query.relevant)) == 1.0
    assert result.metrics["MAP"] == pytest.approx(100.0)


@pytest.mark.parametrize(("name", "content", "words"), [
    ("documents.jsonl", '{"id": "d1"}\n', "missing \"text\""),
    ("documents.jsonl", "not json\n", "not JSON"),
    ("relevance.jsonl", '{"query": "q9", "document": "d1"}\n', "unknown query"),
])
def test_jsonl_errors_name_the_line(own_set, name, content, words):
    (own_set / name).write_text(content)
    result = runner.invoke(app, ["eval", "bench", "jsonl", str(own_set)])
    assert result.exit_code == 1
    assert words in result.output and f"{name}:1" in result.output


def test_jsonl_missing_files_and_subtask(tmp_path, own_set):
    result = runner.invoke(app, ["eval", "bench", "jsonl", str(tmp_path)])
    assert result.exit_code == 1 and "queries.jsonl" in result.output
    result = runner.invoke(app, ["eval", "bench", "covidfaq", str(own_set), "--subtask", "A"])
    assert result.exit_code == 2 and "no subtasks" in result.output


def test_bench_cli_json_for_jsonl_and_unknown_model(own_set):
    result = runner.invoke(app, ["eval", "bench", "jsonl", str(own_set), "--system", "bm25",
                                 "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["dataset"] == "jsonl" and document["systems"]["bm25"]["MAP"] == 100.0
    result = runner.invoke(app, ["eval", "bench", "jsonl", str(own_set), "--system",
                                 "model:nope"])
    assert result.exit_code == 1 and "understudy models" in result.output
