"""Tickets in French, German and Spanish against the English sample: does each find its twin?

Usage: python3 benchmarks/cross_language.py [--output docs/benchmarks.md] [--models m1,m2]

benchmarks/data/cross_language.json holds 48 tickets written for this project (16 French, 16
German, 16 Spanish), each the twin of one answered thread of the bundled sample
(src/understudy/data/sample/threads.json), which is English. For every `embedding_model`
installed, the sample (threads and docs) is indexed in a temporary workspace and each ticket
(title and body) is searched among the answered threads:

- cosine alone: P@1 of the encoder's similarity (query vector against thread vectors);
- index: P@1 of the workspace's hybrid search (BM25 + cosine), what `answer` starts from;
- speed: some of the index's texts and tickets encoded by each encoder in turn, best of two
  rounds, texts per second and as a ratio to MiniLM in the same run (the machine is shared).

The tickets keep what a customer would paste (error names, commands, product names), which an
English-only encoder matches without understanding the rest. So each ticket is searched twice:
as written, and with every word that also occurs in its twin thread removed ("no shared word"),
which leaves only what has to be understood across languages.

It also reports how often the ticket's language is detected right (and "en" for the twins).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import offline  # noqa: F401  (the environment, before any model loads)

HERE = Path(__file__).resolve().parent

START, END = "<!-- cross-language:start -->", "<!-- cross-language:end -->"
TICKETS = HERE / "data" / "cross_language.json"
LANGUAGES = ("fr", "de", "es")
SPEED_PASSAGES, SPEED_QUERIES, SPEED_ROUNDS = 40, 24, 2


def load_tickets(path: Path = TICKETS) -> list[dict[str, str]]:
    """The tickets: language, twin (a sample thread's external id), title and body."""
    return json.loads(path.read_text(encoding="utf-8"))


def ticket_text(ticket: dict[str, str]) -> str:
    """What the answerer matches a ticket by: its title and first message."""
    return f"{ticket['title']}\n{ticket['body']}"


_WORD = re.compile(r"\w+")


def unshared(text: str, twin_text: str) -> str:
    """`text` without the words (case aside) that also occur in `twin_text`."""
    shared = {w.lower() for w in _WORD.findall(twin_text)}
    kept = _WORD.sub(lambda m: "" if m.group().lower() in shared else m.group(), text)
    return " ".join(kept.split())


def thread_text(thread) -> str:  # noqa: ANN001  (a Thread)
    return "\n".join([thread.title, *(m.body for m in thread.messages)])


def detection(tickets: list[dict[str, str]], threads: list) -> dict[str, tuple[int, int]]:
    """(right, total) of the detected language: the tickets', and "en" for the sample's."""
    from understudy.evidence import ticket_language
    from understudy.text.language import detect_language

    right = sum(detect_language(ticket_text(t)) == t["language"] for t in tickets)
    english = [t for t in threads if t.state == "closed"]
    twins = sum(ticket_language(t) == "en" for t in english)
    return {"tickets": (right, len(tickets)), "sample": (twins, len(english))}


def measure_model(home: Path, model: str, tickets: list[dict[str, str]],
                  speed_texts: dict[str, tuple]) -> dict[str, object]:
    """P@1 (cosine alone and the index) overall, per language and with no shared word; the
    encoder and some of its index texts go into `speed_texts` for the speed rounds."""
    import numpy as np

    from understudy.workspace import Workspace

    ws = Workspace(home)
    ws.settings.set("embedding_model", model)
    ws.close()
    ws = Workspace(home)
    index = ws.index
    index.build()
    external = {t.id: t.external_id for t in ws.store.threads()}
    items = [i for i in index.items if i.kind == "thread"]
    rows = [n for n, i in enumerate(index.items) if i.kind == "thread"]
    matrix = index.matrix[rows]
    twins = {t.external_id: thread_text(t) for t in ws.store.threads()}
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    bare: list[tuple[bool, bool]] = []
    for ticket in tickets:
        for query, found_in in ((ticket_text(ticket), hits[ticket["language"]]),
                                (unshared(ticket_text(ticket), twins[ticket["twin"]]), bare)):
            alone = items[int(np.argmax(matrix @ index.query_vector(query)))]
            [found] = index.search(query, k=1, kinds={"thread"})
            found_in.append((external[alone.thread_id] == ticket["twin"],
                             external[found.item.thread_id] == ticket["twin"]))
            if not found_in[-1][0]:
                print(f"  {model} missed {ticket['twin']} ({ticket['language']}): cosine found "
                      f"{external[alone.thread_id]} for {query[:70]!r}", flush=True)
    texts = [i.embed_text for i in index.items][:SPEED_PASSAGES]
    speed_texts[model] = (index.embedder, texts)
    ws.close()
    every = [h for found in hits.values() for h in found]
    return {
        "name": index.embedder.name,
        "cosine": sum(a for a, _ in every) / len(every),
        "index": sum(b for _, b in every) / len(every),
        "by_language": {lang: sum(b for _, b in hits[lang]) / len(hits[lang])
                        for lang in LANGUAGES if hits[lang]},
        "bare_cosine": sum(a for a, _ in bare) / len(bare),
        "bare_index": sum(b for _, b in bare) / len(bare),
    }


def measure_speed(encoders: dict[str, tuple], queries: list[str]) -> dict[str, float]:
    """Texts per second of each encoder: its index texts as passages and the tickets as
    queries, in rounds that take turns, best round kept (the machine is shared)."""
    best: dict[str, float] = {}
    for _ in range(SPEED_ROUNDS):
        for model, (encoder, texts) in encoders.items():
            t0 = time.perf_counter()
            encoder.encode(texts, kind="passage")
            encoder.encode(queries, kind="query")
            rate = (len(texts) + len(queries)) / (time.perf_counter() - t0)
            best[model] = max(best.get(model, 0.0), rate)
    return best


def installed(model: str) -> str | None:
    """None when the model can be loaded here, else why not (one line)."""
    from understudy.embeddings import encoder_for
    from understudy.errors import UnderstudyError

    try:
        encoder_for(model)
    except UnderstudyError as exc:
        return str(exc)
    return None


def measure(models: list[str]) -> dict[str, object]:
    from understudy.demo import load_sample
    from understudy.workspace import Workspace

    tickets = load_tickets()
    out: dict[str, object] = {"models": {}, "skipped": {}, "tickets": len(tickets)}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        ws = Workspace(home)
        sample = load_sample(ws)
        ws.close()
        out["detection"] = detection(tickets, sample.threads)
        encoders: dict[str, tuple] = {}
        for model in models:
            why = installed(model)
            if why:
                out["skipped"][model] = why
                print(f"{model}: skipped ({why})", flush=True)
                continue
            row = measure_model(home, model, tickets, encoders)
            out["models"][model] = row
            print(f"{model}: P@1 cosine {row['cosine']:.3f}, index {row['index']:.3f}, "
                  f"{row['by_language']}; no shared word: cosine {row['bare_cosine']:.3f}, "
                  f"index {row['bare_index']:.3f}", flush=True)
        queries = [ticket_text(t) for t in tickets[:SPEED_QUERIES]]
        for model, rate in measure_speed(encoders, queries).items():
            out["models"][model]["texts/s"] = rate
            print(f"{model}: {rate:.1f} texts/s", flush=True)
    return out


def section(found: dict[str, object]) -> str:
    models = found["models"]
    base = models["minilm"]["texts/s"] if "minilm" in models else None
    right, total = found["detection"]["tickets"]
    en_right, en_total = found["detection"]["sample"]
    lines = [
        START,
        "## Cross-language retrieval: French, German and Spanish tickets against the English "
        "sample",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"CPU cores (shared), Python {platform.python_version()}. {found['tickets']} tickets "
        "written for this project (`benchmarks/data/cross_language.json`: 16 French, 16 German, "
        "16 Spanish), each the twin of one of the 37 answered English threads of the bundled "
        "sample; P@1 is the share whose twin comes first among the answered threads. "
        "*Cosine alone* ranks by the encoder's similarity; *index* is the workspace's hybrid "
        "search (BM25 + cosine), what a draft starts from. The tickets keep what customers "
        "paste (error names, commands, product names), which an English-only model matches "
        "without understanding the rest; *no shared word* searches each ticket again with "
        "every word that also occurs in its twin thread removed. Speed: "
        f"{SPEED_PASSAGES} of the sample's index texts (as passages) and {SPEED_QUERIES} "
        f"tickets (as queries), the encoders taking turns over {SPEED_ROUNDS} rounds, best "
        "round kept, as a ratio to MiniLM in the same run.",
        "",
        "| `embedding_model` | P@1 cosine alone | P@1 index | index fr | index de | index es "
        "| no shared word: cosine | no shared word: index | texts/s | speed vs MiniLM |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, row in models.items():
        by = row["by_language"]
        ratio = f"{row['texts/s'] / base:.2f}x" if base else "-"
        lines.append(
            f"| `{model}` | {row['cosine']:.2f} | {row['index']:.2f} | "
            + " | ".join(f"{by.get(lang, 0):.2f}" for lang in LANGUAGES)
            + f" | {row['bare_cosine']:.2f} | {row['bare_index']:.2f}"
            + f" | {row['texts/s']:.1f} | {ratio} |")
    for model, why in found["skipped"].items():
        lines.append(f"| `{model}` | not installed: {why} |" + " |" * 8)
    lines += [
        "",
        f"Language detection (py3langid, `understudy.text.language`): {right} of {total} "
        f"tickets detected in their language; {en_right} of {en_total} answered sample threads "
        "detected as English.",
        "",
        "Command: `PYTHONPATH=src python3 benchmarks/cross_language.py --output "
        "docs/benchmarks.md`",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    from understudy.embeddings import EMBEDDING_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="markdown file to write the results section into")
    parser.add_argument("--models", default=",".join(EMBEDDING_MODELS),
                        help="comma-separated embedding models (default: all)")
    args = parser.parse_args()
    from serve_load import write_section

    text = section(measure([m.strip() for m in args.models.split(",") if m.strip()]))
    print(text)
    if args.output:
        write_section(args.output, text, START, END)


if __name__ == "__main__":
    main()
