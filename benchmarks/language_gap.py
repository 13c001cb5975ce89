"""How far a multilingual encoder's score drops when a ticket is in another language than the
answer: the same ticket in French and in English, against its English twin thread.

    PYTHONPATH=$PWD/src python benchmarks/language_gap.py [--model multilingual-e5-small]

benchmarks/data/cross_language_en.json holds English versions, written for this project, of
the 16 French tickets of benchmarks/data/cross_language.json. In a workspace of the bundled
sample indexed with the model, each ticket is asked in both languages through the Answerer;
where both find the twin thread first, the difference of the best evidence's fused score
(English minus French) is the gap for that ticket, with the content held equal. The median
is what `embeddings.CROSS_LANGUAGE_GAP` records for the model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import offline  # noqa: F401  (the environment, before any model loads)
from cross_language import load_tickets

from understudy.demo import load_threads
from understudy.records import Message, Thread
from understudy.workspace import Workspace

HERE = Path(__file__).resolve().parent
ENGLISH = HERE / "data" / "cross_language_en.json"


def _ticket(title: str, body: str) -> Thread:
    return Thread("gap", title[:40], "", title, messages=[
        Message("q", "customer", body, "", kind="question", text=body)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="multilingual-e5-small")
    args = parser.parse_args()
    tickets = load_tickets()
    english = json.loads(ENGLISH.read_text(encoding="utf-8"))["tickets"]
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp))
        ws.settings.set("embedding_model", args.model)
        for thread in load_threads():
            ws.store.upsert_thread(thread)
        ws.index.build()
        ids = {t.external_id: t.id for t in ws.store.threads()}
        answerer = ws.answerer()
        rows = []
        for number, (title, body) in english.items():
            foreign = tickets[int(number)]
            twin = ids[foreign["twin"]]
            row = {"ticket": int(number), "twin": foreign["twin"]}
            for language, (t, b) in (("fr", (foreign["title"], foreign["body"])),
                                     ("en", (title, body))):
                best = answerer.evidence(_ticket(t, b))[0]
                row[language] = round(best.retrieval_score, 4)
                row[f"{language}_twin_first"] = best.thread_id == twin
            rows.append(row)
        ws.close()
    both = [r for r in rows if r["fr_twin_first"] and r["en_twin_first"]]
    gaps = [r["en"] - r["fr"] for r in both]
    print(json.dumps({"model": args.model, "tickets": len(rows), "both_first": len(both),
                      "gap_median": round(statistics.median(gaps), 4) if gaps else None,
                      "gap_quartiles": [round(q, 4) for q in statistics.quantiles(gaps, n=4)]
                      if len(gaps) > 1 else None, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
