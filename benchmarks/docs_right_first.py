"""Right page first on a docs workspace: the 20 npm questions of benchmarks/abstention.py and the
41 hand-written stand-ins, by the index's own search, and with page-level aggregation.

    understudy --home /tmp/npmdocs sync docs /usr/lib/node_modules/npm/docs/content/commands
    understudy --home /tmp/npmdocs index
    PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 python benchmarks/docs_right_first.py /tmp/npmdocs

Aggregation scores a page by its best passage plus `weight` times its second best ("second"),
or plus `weight` x (passages found - 1) / 10 ("count"), over the top 40 hits; weight 0 is the
index's own order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from abstention import NPM_QUESTIONS  # noqa: E402

from understudy.workspace import Workspace  # noqa: E402

STANDINS = HERE / "data" / "npm_standin_questions.json"


def _page_score(scores: list[float], weight: float, mode: str) -> float:
    found = sorted(scores, reverse=True)
    extra = found[1] if len(found) > 1 else 0.0
    return found[0] + weight * (extra if mode == "second" else (len(found) - 1) / 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="a workspace synced from npm's command docs")
    args = parser.parse_args()
    index = Workspace(args.home).index
    standins = [tuple(q) for q in json.loads(STANDINS.read_text())["questions"]]
    sets = {"npm questions": NPM_QUESTIONS, "stand-ins": standins}
    hits = {q: index.search(q, k=40) for qs in sets.values() for q, _ in qs}

    def page(hit) -> str:  # noqa: ANN001
        return hit.item.url.split("#")[0].rsplit("/", 1)[-1].removesuffix(".md")

    def right_first(questions, weight: float, mode: str) -> float:  # noqa: ANN001
        right = 0
        for question, want in questions:
            pages: dict[str, list[float]] = {}
            for hit in hits[question]:
                pages.setdefault(page(hit), []).append(hit.score)

            right += max(pages, key=lambda name, p=pages: _page_score(
                p[name], weight, mode)) == want
        return round(100 * right / len(questions), 1)

    rows = [{"mode": mode, "weight": w,
             **{name: right_first(qs, w, mode) for name, qs in sets.items()}}
            for mode in ("second", "count") for w in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)]
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
