"""The answer ranker over more than one encoder: another encoder's similarities as extra columns.

Usage: python benchmarks/ranker_hybrid.py SEMEVAL_FOLDER [--home H] [--bases B1,B2]
                                          [--extras E1,E2] [--no-speed]

Each base encoder (MiniLM tuned on train-part2 as `eval bench --train --system ranker` tunes
it, taken from the user cache and never tuned here; MiniLM as shipped; e5 and mpnet alone)
featurizes train-part2 and dev as `eval bench` does. To its rows go the similarity columns of
every subset of the other encoders: per reply the cosine of the ticket to the reply and to its
thread's question and of the reply to its question; per thread the ticket's cosine to the
question, the title, the body and the thread's best reply (the ticket read as a query where
the encoder tells queries from passages, e5). Five-fold cross-validation on train-part2,
folds by original question, picks the combination; dev is scored once for each, for
reference. Vectors are kept in H's store (default: a folder in the system temp folder), so a
rerun encodes nothing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from ranker_ablation import answer_map, score

from understudy.config import default_cache
from understudy.embeddings import E5, MINILM, MPNET, Embedder, encoder_for
from understudy.embeddings.cached import CachedEncoder
from understudy.evaluate.answer_ranker import RankerQuery, featurize, read_queries
from understudy.evaluate.metrics import official_average_precision
from understudy.evaluate.semeval import load_semeval
from understudy.index import EMBED_CHARS
from understudy.ranker.features import Features, Ticket, features, similarities, with_extras
from understudy.ranker.model import AnswerRanker
from understudy.workspace import Workspace

TUNED = "minilm-tuned"
# MiniLM tuned for 3 epochs on train-part2 by `eval bench --train --system ranker` (an hour).
TUNED_FOLDER = default_cache() / "tuned" / "all-MiniLM-L6-v2-b3b82f7201343270"
FOLDS = 5
SPEED_TEXTS = 256


def make_encoder(name: str) -> object:
    if name == TUNED:
        if not (TUNED_FOLDER / "modules.json").is_file():
            raise SystemExit(f"No tuned MiniLM in {TUNED_FOLDER}: run `understudy eval bench "
                             "... --train PATH --system ranker` once (it tunes and keeps it)")
        return Embedder(TUNED_FOLDER, name="all-MiniLM-L6-v2+tuned-b3b82f7201343270")
    return encoder_for(name)


def extra_rows(queries: list[RankerQuery], encode: CachedEncoder) -> list[Features]:
    """similarities() of every query with one extra encoder, the tickets read as queries:
    what ranker.features.with_extras() appends, with the tickets encoded in one batch."""
    encode([t[:EMBED_CHARS] for q in queries for c in q.threads
            for t in (c.question, c.thread.title, *(m.text for m in c.thread.messages))])
    tickets = encode.encode([q.ticket.text[:EMBED_CHARS] for q in queries], kind="query")
    return [similarities(Ticket(q.ticket.title, q.ticket.body, vector), q.replies, encode,
                         q.threads) for q, vector in zip(queries, tickets, strict=True)]


def stacked(base: list[Features], extras: list[list[Features]]) -> list[Features]:
    return [Features(np.hstack([b.replies, *(e[n].replies for e in extras)]),
                     np.hstack([b.threads, *(e[n].threads for e in extras)]), b.thread_of)
            for n, b in enumerate(base)]


def fit(queries: list[RankerQuery], rows: list[Features], extras: tuple[str, ...]
        ) -> AnswerRanker:
    return AnswerRanker(extras=extras).fit(
        rows, [np.asarray(q.reply_labels) for q in queries],
        [np.asarray(q.answer_labels) for q in queries],
        [np.asarray(q.thread_labels) for q in queries])


def _ap(scores: np.ndarray, labels: list[bool]) -> float:
    order = np.argsort(-scores, kind="stable")
    return official_average_precision([bool(labels[i]) for i in order])


def folds(queries: list[RankerQuery], rows: list[Features], extras: tuple[str, ...]
          ) -> dict[str, float]:
    """MAP (percent) of C, B and A on held-out train-part2 questions, five folds by question."""
    found: dict[str, list[float]] = {"C": [], "B": [], "A": []}
    for k in range(FOLDS):
        rest = [n for n in range(len(queries)) if n % FOLDS != k]
        ranker = fit([queries[n] for n in rest], [rows[n] for n in rest], extras)
        for n in range(k, len(queries), FOLDS):
            q, r = queries[n], rows[n]
            found["C"].append(_ap(ranker.probabilities(r), q.reply_labels))
            found["B"].append(_ap(ranker.thread_probabilities(r), q.thread_labels))
            chances, labels = ranker.answer_probabilities(r), np.asarray(q.answer_labels)
            for thread in range(len(r.threads)):
                mine = np.flatnonzero(r.thread_of == thread)
                found["A"].append(_ap(chances[mine], list(labels[mine])))
    return {name: 100 * float(np.mean(v)) for name, v in found.items()}


def speeds(encoders: dict[str, object], texts: list[str]) -> dict[str, float]:
    """Texts per second of each encoder on `texts` (passages, nothing cached), MiniLM timed
    first and last and averaged, so a change of load weighs on both sides."""
    names = [MINILM, *(n for n in encoders if n not in (MINILM, TUNED)), MINILM]
    runs: dict[str, list[float]] = {}
    for name in names:
        encoders[name].encode(texts[:8])  # loaded and warm
        started = time.perf_counter()
        encoders[name].encode(texts)
        runs.setdefault(name, []).append(len(texts) / (time.perf_counter() - started))
    return {name: float(np.mean(r)) for name, r in runs.items()}


def ticket_ms(encoders: dict[str, object], tickets: list[str]) -> dict[str, float]:
    """Median ms to encode one ticket as a query: what each extra encoder adds to an answer
    (the candidates' vectors come from the store)."""
    found = {}
    for name, enc in encoders.items():
        enc.encode(tickets[:1], kind="query")
        runs = []
        for ticket in tickets:
            started = time.perf_counter()
            enc.encode([ticket], kind="query")
            runs.append(time.perf_counter() - started)
        found[name] = 1000 * float(np.median(runs))
    return found


def answer_ms(query: RankerQuery, base: CachedEncoder, ranker: AnswerRanker,
              extras: list[CachedEncoder], runs: int = 20) -> float:
    """Median ms of one answer's ranking of `query`'s candidates as the answer path does it:
    the ticket's vector handed over by the search, every candidate's vectors stored, each
    extra encoder encoding the ticket as a query."""
    vector = base.encode([query.ticket.text[:EMBED_CHARS]], kind="query")[0]
    ticket = Ticket(query.ticket.title, query.ticket.body, vector)
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        rows = with_extras(features(ticket, query.replies, base), ticket, query.replies, extras)
        ranker.probabilities(rows)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--home", type=Path,
                        default=Path(tempfile.gettempdir()) / "understudy-ranker-hybrid")
    parser.add_argument("--extras", default=f"{E5},{MPNET}",
                        help="encoders whose similarities may be added (comma-separated)")
    parser.add_argument("--bases", default=f"{TUNED},{MINILM}",
                        help="encoders whose full features the extras are added to")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--answer-times", action="store_true",
                        help="only time one answer's ranking over the first base with no "
                        "extra, each extra alone, and all of them")
    args = parser.parse_args()
    workspace = Workspace(args.home)
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    bases = [b.strip() for b in args.bases.split(",") if b.strip()]
    names = list(dict.fromkeys([MINILM, *bases, *extras]))
    raw = {name: make_encoder(name) for name in names}
    encoders = {name: CachedEncoder(enc, workspace.store) for name, enc in raw.items()}
    split = {s: read_queries(args.folder, s) for s in ("train", "dev")}
    dev_b, dev_c = load_semeval(args.folder, "B", "dev"), load_semeval(args.folder, "C", "dev")
    started = time.perf_counter()
    base_rows = {(b, s): featurize(qs, encoders[b]) for b in bases for s, qs in split.items()}
    more = {(e, s): extra_rows(qs, encoders[e]) for e in extras for s, qs in split.items()}
    print(f"features ready in {time.perf_counter() - started:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    if args.answer_times:
        base = bases[0]
        busiest = max(split["dev"], key=lambda q: len(q.replies))
        pool = [e for e in extras if e != base]
        for chosen in dict.fromkeys([(), *((e,) for e in pool), tuple(pool)]):
            rows = stacked(base_rows[base, "train"], [more[e, "train"] for e in chosen])
            ranker = fit(split["train"], rows, chosen)
            ms = answer_ms(busiest, encoders[base], ranker, [encoders[e] for e in chosen])
            print(f"{base} + {' + '.join(chosen) or 'nothing'}: {len(busiest.replies)} "
                  f"candidates ranked in {ms:.1f} ms (median of 20; load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
        return
    print("| base | extras | folds C | folds B | folds A | dev C | dev B | dev A |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for base in bases:
        pool = [e for e in extras if e != base]
        for size in range(len(pool) + 1):
            for chosen in itertools.combinations(pool, size):
                train = stacked(base_rows[base, "train"], [more[e, "train"] for e in chosen])
                dev = stacked(base_rows[base, "dev"], [more[e, "dev"] for e in chosen])
                cv = folds(split["train"], train, chosen)
                ranker = fit(split["train"], train, chosen)
                by_id = {q.id: rows for q, rows in zip(split["dev"], dev, strict=True)}

                def rows_of(qs: list[RankerQuery], by_id: dict = by_id) -> list[Features]:
                    return [by_id[q.id] for q in qs]

                c = score(dev_c, ranker, encoders[base], rows_of)
                b = score(dev_b, ranker, encoders[base], rows_of)
                a = answer_map(split["dev"], ranker, encoders[base], dev)
                print(f"| {base} | {' + '.join(chosen) or '-'} | {cv['C']:.2f} | {cv['B']:.2f} "
                      f"| {cv['A']:.2f} | {c:.2f} | {b:.2f} | {a:.2f} |", flush=True)
    if not args.no_speed:
        texts = sorted({c.message.text[:EMBED_CHARS] for q in split["dev"] for c in q.replies})
        sample = [texts[n] for n in np.random.default_rng(0).permutation(len(texts))[
            :SPEED_TEXTS]]
        found = speeds(raw, sample)
        print(f"encode speed, {SPEED_TEXTS} dev comments as passages (load average "
              f"{os.getloadavg()[0]:.1f}): " + ", ".join(
                  f"{n} {v:.1f}/s ({100 * v / found[MINILM]:.0f}% of MiniLM)"
                  for n, v in found.items()))
        tickets = [q.ticket.text[:EMBED_CHARS] for q in split["dev"]]
        print("one ticket as a query, median of the 50 dev tickets: " + ", ".join(
            f"{n} {v:.1f} ms" for n, v in ticket_ms(raw, tickets).items()))


if __name__ == "__main__":
    main()
