"""Why a docs-only workspace does not calibrate itself: passage probes against real questions.

On a docs workspace (npm's command pages), each of the latest passages is asked by a probe made
from its own text, with the passage in the index (held in) and without it (held out: the
passage alone, or every passage of its page); the real questions of benchmarks/abstention.py
are asked too. For each probe it prints the best evidence's fused score (quartiles), how many
held-out cases say the same as the passage (near-duplicates, right by the calibration's rule),
and what a fit on the score at the default target precision would do to the real questions.

    PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 python benchmarks/abstention_docs_probes.py \\
        --docs /usr/lib/node_modules/npm/docs/content/commands --passages 150
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from abstention import NEIGHBOUR_QUESTIONS, NPM_QUESTIONS, _ticket

from understudy.answer import Answerer
from understudy.evaluate.workspace_calibration import (
    DEFAULT_PRECISION,
    NEAR_DUPLICATE,
    Case,
    _Without,
    choose_threshold,
)
from understudy.workspace import Workspace

SENTENCE_END = (". ", "! ", "? ")


def _sentences(text: str) -> list[str]:
    out, rest = [], text.strip()
    while rest:
        cut = min((rest.find(e) for e in SENTENCE_END if rest.find(e) >= 0), default=-1)
        out.append(rest if cut < 0 else rest[:cut + 1])
        rest = "" if cut < 0 else rest[cut + 2:]
    return out


def _dropped(text: str, seed: str) -> str:
    chance = random.Random(seed)
    words = text.split()
    return " ".join([w for w in words if chance.random() < 0.7] or words[:1])


def _quartiles(values: list[float]) -> list[float]:
    return [round(float(v), 3) for v in np.percentile(values, [25, 50, 75])] if values else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--passages", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        subprocess.run([sys.executable, "-m", "understudy", "--home", tmp, "sync", "docs",
                        str(args.docs)], check=True, capture_output=True, env=env)
        ws = Workspace(Path(tmp))
        ws.index.build()
        answerer = Answerer(ws)
        every = [p for p in ws.store.passages() if p.id is not None]
        pages: dict[str, set[str]] = {}
        for p in every:
            pages.setdefault(p.path, set()).add(f"passage:{p.id}")
        asked = [p for p in every if p.text.strip()][-args.passages:]
        real = {"npm questions (answerable)": [q for q, _ in NPM_QUESTIONS],
                "neighbouring tools (unanswerable)": NEIGHBOUR_QUESTIONS}
        real_scores = {name: [answerer.evidence(_ticket(q))[0].retrieval_score for q in qs]
                       for name, qs in real.items()}
        probes = {
            "heading + first sentence": lambda p, s: (p.heading or p.path) + "\n" + s[0],
            "same, 30% of words dropped": lambda p, s: _dropped(
                (p.heading or p.path) + "\n" + s[0], f"passage:{p.id}"),
            "a middle sentence": lambda p, s: s[len(s) // 2],
            "heading trail alone": lambda p, s: p.heading or p.path,
            "page title alone": lambda p, s: (p.heading or p.path).split(" > ")[0],
        }
        embedder = answerer.index.embedder
        results: dict[str, object] = {"passages": len(asked),
                                      "real": {k: _quartiles(v) for k, v in real_scores.items()}}
        for name, probe in probes.items():
            row: dict[str, object] = {}
            for held, keys in (("held in", lambda p: set()),
                               ("passage out", lambda p: {f"passage:{p.id}"}),
                               ("page out", lambda p: pages[p.path])):
                cases = []
                for p in asked:
                    key = f"passage:{p.id}"
                    ranked = answerer.evidence(_ticket(probe(p, _sentences(p.text))[:600]),
                                               retriever=_Without(answerer, keys(p)))
                    if ranked:
                        cases.append((ranked[0], p.text, key))
                chosen = np.asarray(embedder.encode([e.text[:1500] for e, _, _ in cases]))
                own = np.asarray(embedder.encode([t[:1500] for _, t, _ in cases]))
                same = np.sum(chosen * own, axis=1) >= NEAR_DUPLICATE
                right = [bool(s) or e.key == k for (e, _, k), s in zip(cases, same, strict=True)]
                row[held] = {"score_quartiles": _quartiles([e.retrieval_score
                                                            for e, _, _ in cases]),
                             "right": sum(right), "cases": len(cases)}
                row[f"_{held}"] = [Case(held, k, e.retrieval_score, r)
                                   for (e, _, k), r in zip(cases, right, strict=True)]
            for held_out in ("passage out", "page out"):
                cases = row["_held in"] + row[f"_{held_out}"]
                score, reached, _ = choose_threshold(cases, DEFAULT_PRECISION)
                row[f"fit with {held_out}"] = {
                    "score_threshold": round(score, 3), "reached": reached,
                    **{f"{name}: answered %": round(100 * float(np.mean(np.asarray(v) >= score)), 1)
                       for name, v in real_scores.items()}}
            results[name] = {k: v for k, v in row.items() if not k.startswith("_")}
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
