"""Property-based fuzzing of the text functions every ticket and draft passes through.

Usage: PYTHONPATH=src python3 benchmarks/fuzz_text.py [--cases 2000] [--seed 0] [--hostile-only]

For each target (mask_secrets, safe_outgoing, markdown_to_text) hypothesis generates `--cases`
texts of up to ~20 KB: arbitrary Unicode, hostile pieces (PEM headers, `password: "`, quick
actions, unclosed tags, digit runs) and mixes of both, with fake secrets of every kind planted.
Reported per target: cases, crashes, cases over 1 s and the slowest case (wall-clock and CPU
time), and for masking the cases that were not idempotent or left a planted secret. Nothing
stops at the first failure.

Then hostile inputs of 56 KB and 1 MB (repeated PEM headers, unclosed tags, `password: "`,
digit runs, ...) are timed through mask_secrets and make_inert, and, where it is given
(`--baseline REV`, default the last revision before the linear-time rules), through the
mask_secrets of that git revision at 56 KB, and with `--before REV` through that revision's
mask_secrets at 1 MB. A 1 MB masking time is the shortest of three runs, wall-clock and CPU.
The same inputs at 56 KB and 300 KB go through markdown_to_text (and at 56 KB through
`--before REV`'s).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_secrets import KINDS  # noqa: E402

from understudy.text import markdown_to_text  # noqa: E402
from understudy.text.masking import mask_secrets  # noqa: E402
from understudy.text.outgoing import make_inert, safe_outgoing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_INPUTS = {
    "PEM headers": "-----BEGIN RSA PRIVATE KEY-----\n",
    "PEM headers, one line": "-----BEGIN RSA PRIVATE KEY-----",
    "unclosed `<a `": "<a ",
    "`password: \"`": 'password: "',
    "escaped JSON keys": '\\"token\\": \\"',
    "spaced digits": "4 ",
    "phone numbers": "+49 30 1234 ",
    "`sk-` prefixes": "sk-",
    "`eyJ` prefixes": "eyJ",
    "`mysql -p`": "mysql -p",
    "`![` images": "![",
    "quick actions": "/close\n",
}

SLOW = 1.0
PIECES = [
    "password", "token", "api_key", "=", ": ", '"', '\\"', "'", "\n", " ", "0", "1", "4",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA",
    "@", ".", "+44 ", "20 ", "4111 ", "://", "u:p@", "glpat-", "sk-", "Bearer ", "mysql -p",
    "AccountKey=", "&sig=", "DE89 ", "[REDACTED:email]", "/close", "/label ~x", "![", "](",
    "<img ", "<a ", "```", "~~~", "> ", "@all", "<!here>", "| a | b |\n|---|---|", "* ", "1. ",
    "&gt;", "<div>", "</div>", "    ", "\t", "#", "[x]", "[x]: http://e.example/i.png",
]
PROSE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2000)
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=400).map("".join)
REPEATED = st.tuples(st.sampled_from(PIECES), st.integers(1, 5000)).map(lambda p: p[0] * p[1])
TEXTS = st.one_of(PROSE, HOSTILE, REPEATED, st.lists(st.one_of(PROSE, HOSTILE, REPEATED),
                                                     max_size=6).map("".join))


class Tally:
    """What one target did over all cases."""

    def __init__(self, name: str) -> None:
        self.name, self.cases, self.crashes, self.slow = name, 0, 0, 0
        self.slowest, self.not_idempotent, self.leaked = 0.0, 0, 0
        self.slow_cpu, self.slowest_cpu = 0, 0.0  # the same in CPU time, which other
        # processes on a shared machine do not inflate as much
        self.first_crash: str | None = None
        self.first_slow: str | None = None
        self.first_leak: str | None = None

    def run(self, target: Callable[[str], str], text: str) -> str | None:
        self.cases += 1
        started, cpu = time.perf_counter(), time.process_time()
        try:
            out = target(text)
        except Exception as exc:  # noqa: BLE001 - a crash is what is being counted
            self.crashes += 1
            self.first_crash = self.first_crash or f"{type(exc).__name__}: {exc} on {text[:80]!r}"
            return None
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        self.slowest = max(self.slowest, took)
        self.slowest_cpu = max(self.slowest_cpu, cpu)
        self.slow_cpu += cpu > SLOW
        if took > SLOW:
            self.slow += 1
            self.first_slow = self.first_slow or f"{took:.1f} s on {len(text)} chars {text[:80]!r}"
        return out

    def row(self) -> str:
        extra = f"{self.not_idempotent} | {self.leaked}" if self.name == "mask_secrets" else "- | -"
        return (f"| {self.name} | {self.cases} | {self.crashes} | {self.slow} | "
                f"{self.slowest * 1000:.0f} ms | {self.slow_cpu} | {self.slowest_cpu * 1000:.0f} ms"
                f" | {extra} |")


def fuzz(cases: int, seed_value: int) -> list[Tally]:
    tallies = {name: Tally(name) for name in ("mask_secrets", "safe_outgoing", "markdown_to_text")}
    options = settings(max_examples=cases, deadline=None, database=None, derandomize=False,
                       suppress_health_check=list(HealthCheck))
    kinds = sorted(KINDS)

    @seed(seed_value)
    @options
    @given(TEXTS, st.sampled_from(kinds), st.randoms(use_true_random=False))
    def masking(text: str, kind: str, rng: random.Random) -> None:
        snippet, secret = KINDS[kind](rng)
        tally = tallies["mask_secrets"]
        cut = rng.randint(0, len(text))
        out = tally.run(mask_secrets, f"{text[:cut]}\n{snippet}\n{text[cut:]}")
        if out is not None:
            if secret in out:
                tally.leaked += 1
                tally.first_leak = tally.first_leak or f"{kind} in {out[:300]!r}"
            tally.not_idempotent += mask_secrets(out) != out

    @seed(seed_value)
    @options
    @given(TEXTS)
    def outgoing(text: str) -> None:
        tallies["safe_outgoing"].run(safe_outgoing, text)

    @seed(seed_value)
    @options
    @given(TEXTS)
    def markdown(text: str) -> None:
        tallies["markdown_to_text"].run(markdown_to_text, text)

    for name, test in (("mask_secrets", masking), ("safe_outgoing", outgoing),
                       ("markdown_to_text", markdown)):
        started = time.perf_counter()
        test()
        print(f"{name}: {tallies[name].cases} cases in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
    return list(tallies.values())


def baseline(revision: str, module: str = "masking",
             name: str = "mask_secrets") -> Callable[[str], str] | None:
    """A function of src/understudy/text/<module>.py as it was at a git revision, or None when
    git cannot show it."""
    try:
        source = subprocess.run(["git", "show", f"{revision}:src/understudy/text/{module}.py"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
        source = source.replace("from .", "from understudy.text.")
    except (OSError, subprocess.CalledProcessError):
        return None
    loaded = types.ModuleType(f"baseline_{module}")
    sys.modules[loaded.__name__] = loaded  # dataclasses look their module up
    try:
        exec(compile(source, f"baseline_{module}.py", "exec"), loaded.__dict__)  # noqa: S102
    except Exception as exc:  # noqa: BLE001 - a revision whose module needs other modules
        print(f"cannot load {revision}'s {module}: {exc}", file=sys.stderr)
        return None
    return getattr(loaded, name)


def timed(function: Callable[[str], str], text: str, repeat: int = 1) -> float:
    """The shortest of `repeat` wall-clock runs (the others lost time to other processes)."""
    return both(function, text, repeat)[0]


def both(function: Callable[[str], str], text: str, repeat: int = 1) -> tuple[float, float]:
    """The shortest wall-clock and CPU times of `repeat` runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        function(text)
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)
    return wall, cpu


def seconds(function: Callable[[str], str], text: str) -> str:
    """Best of three runs, wall-clock with CPU time beside it."""
    wall, cpu = both(function, text, 3)
    return f"{wall:.2f} s (CPU {cpu:.2f})"


def hostile(revision: str, before: str | None) -> None:
    old = baseline(revision)
    previous = baseline(before) if before else None
    head = f" {before}'s mask_secrets 1 MB |" if previous else ""
    print(f"\n| hostile input | mask_secrets 56 KB | {revision}'s mask_secrets 56 KB | "
          f"mask_secrets 1 MB |{head} make_inert 1 MB |")
    print("| --- | --- | --- | --- | --- |" + (" --- |" if previous else ""))
    for name, unit in HOSTILE_INPUTS.items():
        small, large = unit * (56_000 // len(unit)), unit * (1_000_000 // len(unit))
        old_small = f"{timed(old, small):.2f} s" if old else "-"
        then = f" {seconds(previous, large)} |" if previous else ""
        print(f"| {name} | {timed(mask_secrets, small):.3f} s | {old_small} | "
              f"{seconds(mask_secrets, large)} |{then} {timed(make_inert, large):.2f} s |")
    cleaner = baseline(before, "markdown", "markdown_to_text") if before else None
    print(f"\n| hostile input | markdown_to_text 56 KB |"
          f"{f' {before} 56 KB |' if cleaner else ''} markdown_to_text 300 KB |")
    print("| --- | --- | --- |" + (" --- |" if cleaner else ""))
    for name, unit in HOSTILE_INPUTS.items():
        small, large = unit * (56_000 // len(unit)), unit * (300_000 // len(unit))
        then = f" {timed(cleaner, small):.2f} s |" if cleaner else ""
        print(f"| {name} | {timed(markdown_to_text, small):.3f} s |{then} "
              f"{timed(markdown_to_text, large):.2f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", default="1024105",
                        help="git revision to compare with (default: the last one before the "
                        "linear-time masking rules)")
    parser.add_argument("--before", help="also time this git revision's mask_secrets on the "
                        "1 MB inputs and its markdown_to_text at 56 KB, in the same run")
    parser.add_argument("--hostile-only", action="store_true", help="skip the fuzzing")
    args = parser.parse_args()
    if args.hostile_only:
        hostile(args.baseline, args.before)
        return
    tallies = fuzz(args.cases, args.seed)
    print("| target | cases | crashes | over 1 s | slowest | over 1 s CPU | slowest CPU | "
          "not idempotent | secret left |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for tally in tallies:
        print(tally.row())
    for tally in tallies:
        for what, example in (("crash", tally.first_crash), ("slow case", tally.first_slow),
                              ("secret left", tally.first_leak)):
            if example:
                print(f"first {what} of {tally.name}: {example}")
    hostile(args.baseline, args.before)


if __name__ == "__main__":
    main()
