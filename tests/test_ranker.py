"""The answer ranker: features, a saved model, its use in drafts, training, and eval bench."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app
from understudy.errors import ConfigError, InputError
from understudy.ranker.answer import ranker_path
from understudy.ranker.features import NAMES, ReplyCandidate, reply_features
from understudy.ranker.model import AnswerRanker
from understudy.ranker.vectors import CachedEncoder
from understudy.records import Message, Thread

TICKET = "Printer offline\nThe office printer shows offline after the update. How do I fix it?"


def _thread() -> Thread:
    messages = [
        Message("q", "ana", "My printer says offline since the update.", "", kind="question",
                text="My printer says offline since the update."),
        Message("1", "ana", "Anyone? Still offline?", "", kind="reply",
                text="Anyone? Still offline?"),
        Message("2", "sam", "Restart the spooler: `sudo systemctl restart cups`, see "
                "https://example.com/printing", "", kind="reply", is_team=True,
                text="Restart the spooler: `sudo systemctl restart cups`, see "
                "https://example.com/printing"),
        Message("3", "ana", "Thanks, that worked!", "", kind="reply",
                text="Thanks, that worked!"),
    ]
    return Thread("gitlab", "acme#1", "", "Printer offline after update", messages=messages)


def _rows(encode) -> np.ndarray:  # noqa: ANN001
    thread = _thread()
    candidates = [ReplyCandidate(thread, n, 1, 0.8) for n in (1, 2, 3)]
    return reply_features(TICKET, candidates, encode)


def test_features_of_a_small_thread(embedder):
    rows = _rows(CachedEncoder(embedder))
    f = {name: rows[:, n] for n, name in enumerate(NAMES)}
    assert rows.shape == (3, len(NAMES))
    assert list(f["is_asker"]) == [1.0, 0.0, 1.0]
    assert list(f["is_team"]) == [0.0, 1.0, 0.0]
    assert list(f["position"]) == [1.0, 2.0, 3.0]
    assert list(f["has_command"]) == [0.0, 1.0, 0.0]
    assert list(f["has_url"]) == [0.0, 1.0, 0.0]
    assert list(f["has_question_mark"]) == [1.0, 0.0, 0.0]
    # The asker thanked after the team's reply, and wrote right after it.
    assert list(f["asker_thanks_after"]) == [1.0, 1.0, 0.0]
    assert list(f["asker_next"]) == [0.0, 1.0, 0.0]
    assert f["cos_ticket_question"][0] == f["cos_ticket_question"][1] > 0.5
    # The same inputs give the same rows, whether vectors come from the cache or not.
    assert np.array_equal(rows, _rows(CachedEncoder(embedder)))


def _fitted() -> AnswerRanker:
    generator = np.random.default_rng(0)
    matrix = generator.random((400, len(NAMES)))
    labels = (matrix[:, 0] + matrix[:, 11] > 1.0).astype(int)
    return AnswerRanker().fit(matrix, labels)


def test_saved_ranker_is_small_and_reloads_to_the_same_scores(tmp_path):
    ranker = _fitted()
    path = ranker.save(tmp_path / "ranker.pkl")
    assert path.stat().st_size < 1_000_000
    matrix = np.random.default_rng(1).random((50, len(NAMES)))
    again = AnswerRanker.load(path)
    assert np.array_equal(ranker.probabilities(matrix), again.probabilities(matrix))
    # The same data and seed fit the same model.
    assert np.array_equal(_fitted().probabilities(matrix), ranker.probabilities(matrix))


def test_unreadable_ranker_file_is_one_clear_error(tmp_path):
    path = tmp_path / "ranker.pkl"
    path.write_bytes(b"not a ranker")
    with pytest.raises(ConfigError, match="train --backend ranker"):
        AnswerRanker.load(path)


def _team_history(workspace) -> None:  # noqa: ANN001
    topics = [
        ("Printer offline", "The printer is offline after the update",
         "Restart the print spooler with `sudo systemctl restart cups`."),
        ("VPN drops", "The VPN disconnects every hour",
         "Renew the VPN certificate in Settings > Network > VPN."),
        ("Password reset", "I cannot reset my password",
         "Use https://id.example.com/reset and check your spam folder."),
        ("Disk full", "My laptop disk is full",
         "Run the cleanup tool from the IT portal to clear caches."),
    ]
    number = 0
    for round_ in range(3):
        for title, question, answer in topics:
            number += 1
            workspace.store.upsert_thread(make_thread(
                number, f"{title} ({round_})", f"{question}, what should I do?",
                [("customer", "Any news? Still broken?", False), ("sam", answer, True),
                 ("customer", "Thanks, that worked!", False)]))
    workspace.index.build()


def test_trained_ranker_picks_a_reply_and_says_which(workspace):
    _team_history(workspace)
    from understudy.train import TrainOptions, trainer_for

    model = trainer_for(workspace, "ranker").train(TrainOptions())
    assert ranker_path(workspace.home).is_file()
    assert model.metrics["positives"] > 0 and "p_at_1" in model.metrics
    ticket = workspace.store.upsert_thread(make_thread(99, "Printer offline again",
                                                       "The printer is offline, what to do?"))
    assert ticket == "new"
    thread = workspace.store.find_thread("gitlab", "acme/app#99")
    draft = workspace.answerer().draft(thread)
    assert draft.model.endswith("+ranker")
    reply = draft.sources[0]
    assert reply.kind == "reply" and reply.key.startswith("reply:")
    assert "spooler" in draft.text
    assert 0.0 <= draft.confidence <= 1.0


def test_training_without_history_names_the_fix(workspace):
    from understudy.train import TrainOptions, trainer_for

    with pytest.raises(InputError, match="sync more answered threads"):
        trainer_for(workspace, "ranker").train(TrainOptions())


SEMEVAL_XML = """<?xml version="1.0" encoding="utf-8"?>
<xml version="1.0">
{questions}
</xml>
"""
ORG = """<OrgQuestion ORGQ_ID="Q{n}"><OrgQSubject>{subject}</OrgQSubject>
<OrgQBody>{body}</OrgQBody>
<Thread THREAD_SEQUENCE="Q{n}_R2"><RelQuestion RELQ_ID="Q{n}_R2" RELQ_RANKING_ORDER="1"
 RELQ_USERID="U3" RELQ_RELEVANCE2ORGQ="Irrelevant"><RelQSubject>Best pizza</RelQSubject>
<RelQBody>Where is the best pizza in town?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q{n}_R2_C1" RELC_USERID="U4" RELC_RELEVANCE2ORGQ="Bad">
<RelCText>Try the souq.</RelCText></RelComment></Thread>
<Thread THREAD_SEQUENCE="Q{n}_R1"><RelQuestion RELQ_ID="Q{n}_R1" RELQ_RANKING_ORDER="2"
 RELQ_USERID="U1" RELQ_RELEVANCE2ORGQ="PerfectMatch"><RelQSubject>{subject}</RelQSubject>
<RelQBody>{body} Any advice?</RelQBody></RelQuestion>
<RelComment RELC_ID="Q{n}_R1_C1" RELC_USERID="U1" RELC_RELEVANCE2ORGQ="Bad">
<RelCText>thanks a lot?</RelCText></RelComment>
<RelComment RELC_ID="Q{n}_R1_C2" RELC_USERID="U2" RELC_RELEVANCE2ORGQ="Good">
<RelCText>{answer}</RelCText></RelComment></Thread></OrgQuestion>"""
TOPICS = [
    ("Driving licence", "How do I convert my driving licence?",
     "Take your licence and passport to the traffic department."),
    ("Bank account", "Which bank is good for salary transfer?",
     "Commercial bank has low fees for transfers."),
    ("Visa renewal", "How long does visa renewal take?", "About two weeks at immigration."),
    ("Car rental", "Where can I rent a cheap car?", "Try the agencies near the airport."),
]


def _semeval(path: Path, topics: list) -> Path:
    body = "\n".join(ORG.format(n=n, subject=s, body=b, answer=a)
                     for n, (s, b, a) in enumerate(topics, start=1))
    path.write_text(SEMEVAL_XML.format(questions=body), encoding="utf-8")
    return path


def test_eval_bench_trains_the_ranker_and_scores_it(tmp_path, embedder, monkeypatch):
    import understudy.embeddings as embeddings

    monkeypatch.setattr(embeddings, "get_embedder", lambda *a, **k: embedder)
    train = _semeval(tmp_path / "train.xml", TOPICS)
    dev = _semeval(tmp_path / "dev.xml", TOPICS[::-1])
    runner = CliRunner()
    for subtask in ("C", "B"):
        result = runner.invoke(app, ["eval", "bench", "semeval2016", str(dev), "--subtask",
                                     subtask, "--train", str(train), "--system", "ranker",
                                     "--system", "bm25", "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert set(doc["systems"]) == {"ranker", "bm25"}
        ranker = doc["systems"]["ranker"]
        assert ranker["MAP"] == 100.0
        first = "Q1_R1_C2" if subtask == "C" else "Q1_R1"
        assert ranker["rankings"]["Q1"][0] == first


def test_eval_bench_ranker_on_another_data_set_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["eval", "bench", "stackfaq", str(tmp_path),
                                      "--system", "ranker"])
    assert result.exit_code != 0
