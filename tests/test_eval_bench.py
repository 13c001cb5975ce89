"""`understudy eval bench`: loaders, the official baselines, the JSON shape, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from understudy.cli import app, main
from understudy.evaluate.bench import load_benchmark, run_bench
from understudy.evaluate.semeval import load_semeval
from understudy.index import EMBED_CHARS

DATA = Path("/work/shared/benchmarks")
SEMEVAL = DATA / "semeval2016-task3"
STACKFAQ = DATA / "stackfaq" / "stackfaq-dev.json"
needs_semeval = pytest.mark.skipif(
    not (SEMEVAL / "dev").is_dir(), reason=f"SemEval-2016 Task 3 data not found at {SEMEVAL}"
)

# Two original questions; Q1's related questions are given in search-engine order 2, 1.
TINY_XML = """<?xml version="1.0" encoding="utf-8"?>
<xml version="1.0">
<OrgQuestion ORGQ_ID="Q1"><OrgQSubject>Driving licence</OrgQSubject>
<OrgQBody>How do I convert my driving licence in Doha?</OrgQBody>
<Thread THREAD_SEQUENCE="Q1_R2"><RelQuestion RELQ_ID="Q1_R2" RELQ_RANKING_ORDER="2"
 RELQ_RELEVANCE2ORGQ="Irrelevant"><RelQSubject>Best pizza</RelQSubject>
<RelQBody>Where is the best pizza in town?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q1_R2_C1" RELC_RELEVANCE2ORGQ="Bad"><RelCText>Try the souq.</RelCText>
</RelComment></Thread></OrgQuestion>
<OrgQuestion ORGQ_ID="Q1"><OrgQSubject>Driving licence</OrgQSubject>
<OrgQBody>How do I convert my driving licence in Doha?</OrgQBody>
<Thread THREAD_SEQUENCE="Q1_R1"><RelQuestion RELQ_ID="Q1_R1" RELQ_RANKING_ORDER="1"
 RELQ_RELEVANCE2ORGQ="PerfectMatch"><RelQSubject>Licence transfer</RelQSubject>
<RelQBody>Converting a foreign driving licence in Qatar: what papers?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q1_R1_C1" RELC_RELEVANCE2ORGQ="Good">
<RelCText>Take your licence and passport to the traffic department.</RelCText></RelComment>
<RelComment RELC_ID="Q1_R1_C2" RELC_RELEVANCE2ORGQ="Bad"><RelCText>thanks</RelCText>
</RelComment></Thread></OrgQuestion>
<OrgQuestion ORGQ_ID="Q2"><OrgQSubject>Cheap flights</OrgQSubject>
<OrgQBody>Which airline has cheap flights to Manila?</OrgQBody>
<Thread THREAD_SEQUENCE="Q2_R1"><RelQuestion RELQ_ID="Q2_R1" RELQ_RANKING_ORDER="1"
 RELQ_RELEVANCE2ORGQ="Relevant"><RelQSubject>Flights to Manila</RelQSubject>
<RelQBody>Cheapest airline to fly to Manila?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q2_R1_C1" RELC_RELEVANCE2ORGQ="Good"><RelCText>Cebu Pacific.</RelCText>
</RelComment></Thread></OrgQuestion>
</xml>
"""

TINY_FAQ = {
    "root": {
        "qapair": [
            {
                "question": "Strikethrough in markdown",
                "answer": ["Use ~~tildes~~ around the words."],
                "rephr": ["How do I cross out text in markdown?", "*", "", "strike text"],
            },
            {"question": "Delete a social account", "answer": "Open settings, then delete."},
            {
                "question": "Reset a forgotten password",
                "answer": ["Click 'forgot password' on the login page."],
                "rephr": ["I forgot my password, what now?"],
            },
        ]
    }
}


@pytest.fixture
def tiny_semeval(tmp_path) -> Path:
    folder = tmp_path / "semeval" / "dev"
    folder.mkdir(parents=True)
    (folder / "tiny-dev.xml").write_text(TINY_XML)
    return folder.parent


@pytest.fixture
def tiny_faq(tmp_path) -> Path:
    path = tmp_path / "stackfaq-dev.json"
    path.write_text(json.dumps(TINY_FAQ))
    return path


def _bench_json(*args: str) -> dict:
    result = CliRunner().invoke(app, ["eval", "bench", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_semeval_loader_groups_threads_and_reads_xml_labels(tiny_semeval):
    bench = load_semeval(tiny_semeval, "B")
    assert [q.id for q in bench.queries] == ["Q1", "Q2"]
    assert [c.id for c in bench.queries[0].candidates] == ["Q1_R2", "Q1_R1"]
    assert bench.queries[0].relevant == {"Q1_R1"}
    assert bench.queries[0].text == "Driving licence\nHow do I convert my driving licence in Doha?"
    comments = load_semeval(tiny_semeval / "dev" / "tiny-dev.xml", "C")
    assert [c.id for c in comments.queries[0].candidates] == ["Q1_R2_C1", "Q1_R1_C1", "Q1_R1_C2"]
    assert comments.queries[0].relevant == {"Q1_R1_C1"}


def test_gold_file_gives_labels_and_tie_order(tiny_semeval):
    xml = tiny_semeval / "dev" / "tiny-dev.xml"
    gold = xml.with_name(xml.name + ".subtaskB.relevancy")
    gold.write_text("Q1\tQ1_R1\t1\t1.0\tfalse\nQ1\tQ1_R2\t2\t0.5\ttrue\nQ2\tQ2_R1\t1\t1.0\ttrue\n")
    bench = load_semeval(tiny_semeval, "B")
    assert [c.id for c in bench.queries[0].candidates] == ["Q1_R1", "Q1_R2"]
    assert bench.queries[0].relevant == {"Q1_R2"}


def test_bench_json_on_tiny_semeval_with_every_system(tiny_semeval, embedder):
    doc = _bench_json("semeval2016", str(tiny_semeval))
    assert doc["dataset"] == "semeval2016" and doc["subtask"] == "B"
    assert set(doc["systems"]) == {"default", "bm25", "embeddings", "hybrid", "search-engine"}
    for name, system in doc["systems"].items():
        assert {"MAP", "MRR", "P@1", "P@5", "P@10"} <= set(system), name
        assert sorted(system["rankings"]["Q1"]) == ["Q1_R1", "Q1_R2"]
        assert system["rankings"]["Q2"] == ["Q2_R1"]
    # the search engine's order puts the right answer first; so does matching the words
    assert doc["systems"]["search-engine"]["rankings"]["Q1"] == ["Q1_R1", "Q1_R2"]
    assert doc["systems"]["search-engine"]["MAP"] == 100.0
    assert doc["systems"]["default"]["rankings"]["Q1"][0] == "Q1_R1"


def test_stackfaq_ids_keep_the_places_of_skipped_rephrasings(tiny_faq, embedder):
    doc = _bench_json("stackfaq", str(tiny_faq), "--system", "bm25", "--system", "default")
    assert doc["subtask"] is None
    for system in doc["systems"].values():
        assert {"MAP", "MRR", "P@1", "nDCG@10"} <= set(system)
        assert sorted(system["rankings"]) == ["0:0", "0:3", "2:0"]
        assert all(sorted(r) == ["0", "1", "2"] for r in system["rankings"].values())
    assert doc["systems"]["default"]["rankings"]["2:0"][0] == "2"


@needs_semeval
@pytest.mark.parametrize(("subtask", "published"), [("B", 71.35), ("C", 30.65)])
def test_search_engine_order_reproduces_the_official_dev_baseline(subtask, published):
    bench = load_benchmark("semeval2016", SEMEVAL, subtask)
    result = run_bench(bench, ["search-engine"])["search-engine"]
    assert round(result.metrics["MAP"], 2) == published


@needs_semeval
def test_bench_json_on_semeval_dev_uses_the_dataset_ids():
    doc = _bench_json(
        "semeval2016", str(SEMEVAL / "dev" / "SemEval2016-Task3-CQA-QL-dev.xml"),
        "--system", "bm25", "--system", "search-engine",
    )
    gold = (SEMEVAL / "dev" / "SemEval2016-Task3-CQA-QL-dev.xml.subtaskB.relevancy").read_text()
    candidates: dict[str, list[str]] = {}
    for line in gold.splitlines():
        qid, cid = line.split()[:2]
        candidates.setdefault(qid, []).append(cid)
    assert set(doc["systems"]) == {"bm25", "search-engine"}
    for system in doc["systems"].values():
        assert system["rankings"].keys() == candidates.keys()
        for qid, ranking in system["rankings"].items():
            assert sorted(ranking) == sorted(candidates[qid])
    assert doc["systems"]["search-engine"]["MAP"] == 71.35


@pytest.mark.skipif(not STACKFAQ.is_file(), reason=f"StackFAQ data not found at {STACKFAQ}")
def test_stackfaq_dev_loads_every_rephrasing():
    bench = load_benchmark("stackfaq", STACKFAQ.parent)
    assert len(bench.queries[0].candidates) == 125
    assert all(q.relevant == {q.id.split(":")[0]} for q in bench.queries)
    assert len({q.id for q in bench.queries}) == len(bench.queries)


def _run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["understudy", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("semeval2016", "/no/such/folder"), 1, "No such file or folder"),
        (("stackfaq", "/no/such/file.json"), 1, "No such file"),
        (("mnist", "."), 2, "Unknown dataset"),
    ],
)
def test_bad_input_is_one_line(monkeypatch, capsys, args, code, words):
    exit_code, err = _run_main(monkeypatch, capsys, "eval", "bench", *args)
    assert exit_code == code
    assert err.startswith("Error: ") and words in err and err.count("\n") == 1


def test_bad_system_and_subtask_are_usage_errors(monkeypatch, capsys, tiny_semeval, tiny_faq):
    code, err = _run_main(monkeypatch, capsys, "eval", "bench", "stackfaq", str(tiny_faq),
                          "--system", "search-engine")
    assert code == 2 and "does not apply to stackfaq" in err and err.count("\n") == 1
    code, err = _run_main(monkeypatch, capsys, "eval", "bench", "semeval2016", str(tiny_semeval),
                          "--subtask", "D")
    assert code == 2 and "--subtask B" in err
    broken = tiny_semeval / "dev" / "tiny-dev.xml"
    broken.write_text("<xml><OrgQuestion")
    code, err = _run_main(monkeypatch, capsys, "eval", "bench", "semeval2016", str(broken))
    assert code == 1 and "Cannot read" in err and err.count("\n") == 1


class _KindSpy:
    """An encoder whose vector says how a text was read: e5-like, a query and a passage of the
    same words differ; it records every (kind, text) it was asked for."""

    name, dim = "kind-spy", 4

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def encode(self, texts, kind="passage"):  # noqa: ANN001, ANN201
        self.calls += [(kind, t) for t in texts]
        vectors = np.asarray([[len(t) % 7 + 1, "licence" in t.lower(), kind == "query", 1.0]
                              for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_bench_encodes_queries_as_queries_and_candidates_as_passages(tiny_semeval):
    bench = load_benchmark("semeval2016", tiny_semeval)
    spy = _KindSpy()
    run_bench(bench, ["embeddings", "default"], spy)
    queries = {q.text[:EMBED_CHARS] for q in bench.queries}
    candidates = {t[:EMBED_CHARS] for q in bench.queries for c in q.candidates for t in c.texts}
    candidates |= {c.item.embed_text for q in bench.queries for c in q.candidates}
    assert {t for k, t in spy.calls if k == "query"} == queries
    assert {t for k, t in spy.calls if k == "passage"} == candidates
    assert len(spy.calls) == len(set(spy.calls))  # each (kind, text) encoded once


def test_bench_uses_the_workspace_s_embedding_model(home, monkeypatch, tiny_semeval):
    import understudy.embeddings as embeddings
    from understudy.config import Settings

    Settings.load(home).set("embedding_model", "multilingual-e5-small")
    asked, spy = [], _KindSpy()
    monkeypatch.setattr(embeddings, "encoder_for", lambda name: asked.append(name) or spy)
    doc = _bench_json("semeval2016", str(tiny_semeval), "--system", "embeddings")
    assert asked == ["multilingual-e5-small"] and {k for k, _ in spy.calls} == {"query", "passage"}
    assert set(doc["systems"]) == {"embeddings"}
    first, spy.calls = spy.calls, []
    again = _bench_json("semeval2016", str(tiny_semeval), "--system", "embeddings")
    # the candidates' vectors were kept in the workspace: only the queries are encoded again
    assert spy.calls == [c for c in first if c[0] == "query"]
    assert again["systems"]["embeddings"]["MAP"] == doc["systems"]["embeddings"]["MAP"]
