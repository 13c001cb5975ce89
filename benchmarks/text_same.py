"""Whether mask_secrets and markdown_to_text give the same output as at an earlier revision.

Usage: PYTHONPATH=src python3 benchmarks/text_same.py [--before REV] [--mixes 3000] [--seed 7]

Texts: the bundled sample docs and threads, docs/*.md and README.md, the StackFAQ and COVID-FAQ
sets and the TWCS sample of /work/shared/benchmarks (when present), random mixes of Markdown
pieces, logs, fake secrets of every kind (tests/fake_secrets.py) and command lines, and the
hostile inputs of fuzz_text.py repeated to 20 KB. Each function's output is compared with its
output at `--before` (loaded from git); the differing texts are counted and the first shown.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
from fake_secrets import KINDS  # noqa: E402
from fuzz_text import HOSTILE_INPUTS, PIECES, baseline  # noqa: E402

from understudy.text import markdown_to_text  # noqa: E402
from understudy.text.masking import mask_secrets  # noqa: E402

SHARED = Path("/work/shared/benchmarks")
EXTRA = ["word ", "[a](http://x.example/y) ", "![alt text](i.png) ", "`code` ", "\n\n",
         "Traceback (most recent call last):\n", '  File "x.py", line 3\n', "ERROR boom\n",
         "mysql", "sshpass", "redis-cli", " -p", " -a ", "mariadb -p'x y'", "[REDACTED:secret] ",
         "token=abc_def", "token=token", "pass: 12", "(415) 555-2671", "020 7946 0958",
         "+1 ", "378282246310005", "DE89 3704 0044 0532 0130 00", "aws ", "AKIA"]


def strings(value: object) -> Iterator[str]:
    """Every string of 20 characters or more in a JSON value."""
    if isinstance(value, str):
        if len(value) >= 20:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def texts(mixes: int, seed: int) -> list[str]:
    found = [p.read_text() for p in sorted((ROOT / "src/understudy/data/sample/docs").glob("*"))]
    found += [p.read_text() for p in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]]
    found += strings(json.loads((ROOT / "src/understudy/data/sample/threads.json").read_text()))
    for name in ("stackfaq/stackfaq-dev.json", "covidfaq/query_answer_pairs.json"):
        if (SHARED / name).is_file():
            found += strings(json.loads((SHARED / name).read_text()))
    if (SHARED / "twcs/sample.csv").is_file():
        with open(SHARED / "twcs/sample.csv", newline="") as rows:
            found += [value for row in csv.DictReader(rows)
                      for value in strings(list(row.values()))]
    rng = random.Random(seed)
    kinds = sorted(KINDS)
    for _ in range(mixes):
        parts = []
        for _ in range(rng.randint(1, 60)):
            roll = rng.random()
            parts.append(KINDS[rng.choice(kinds)](rng)[0] if roll < 0.25 else
                         rng.choice(PIECES) if roll < 0.65 else rng.choice(EXTRA))
        found.append("".join(parts))
    found += [unit * (20_000 // len(unit)) for unit in HOSTILE_INPUTS.values()]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="6d2f894")
    parser.add_argument("--mixes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    corpus = texts(args.mixes, args.seed)
    print(f"{len(corpus)} texts, {sum(map(len, corpus)):,} characters")
    for module, name, now in (("masking", "mask_secrets", mask_secrets),
                              ("markdown", "markdown_to_text", markdown_to_text)):
        then = baseline(args.before, module, name)
        if then is None:
            sys.exit(f"cannot load {name} of {args.before}")
        differ = [text for text in corpus if then(text) != now(text)]
        print(f"{name}: {len(differ)} of {len(corpus)} texts differ from {args.before}")
        if differ:
            print(f"  first: {differ[0][:200]!r}")


if __name__ == "__main__":
    main()
