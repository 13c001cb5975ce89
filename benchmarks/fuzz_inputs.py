"""Fuzz the input parsers with hypothesis: the CSV importer, issue URLs and `add FILE`.

    python benchmarks/fuzz_inputs.py [--cases N] [--seed S] [--json]

For each target, N generated cases (default 2,000) are run through the real code; a case
crashes when it raises anything but understudy's own one-line errors, and is slow when it
takes over 1 s. The CSV importer is also held to the no-loss property: every good row of a
file arrives as a message, whatever bad rows surround it. Last, a 100,000-row file with 1,000
broken rows is timed against the same rows without them, and against csv.reader alone.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from understudy.errors import UnderstudyError
from understudy.sources import check_url
from understudy.sources.conversations import ConversationsSource
from understudy.sources.csv_records import records
from understudy.sources.files import ticket_from_file
from understudy.sources.github import parse_issue_url as github_issue
from understudy.sources.gitlab import parse_issue_url as gitlab_issue
from understudy.store import Store

SLOW_S = 1.0
GENERIC = "conversation_id,author,role,created_at,text\n"


class Tally:
    """Cases run, crashes (with the first few examples), slow cases and the slowest time."""

    def __init__(self, name: str):
        self.name, self.cases, self.crashes, self.slow, self.lost = name, 0, 0, 0, 0
        self.clean_errors = 0  # understudy's own one-line errors: bad input, told clearly
        self.recovered = 0  # lines of a row whose quote never closed, read as rows of their own
        self.slowest = 0.0
        self.examples: list[str] = []

    def run(self, case: Callable[[], Any], shown: str) -> Any:
        self.cases += 1
        start = time.perf_counter()
        result = None
        try:
            result = case()
        except UnderstudyError:
            self.clean_errors += 1
        except Exception as exc:  # a crash: recorded, the run goes on
            self.crashes += 1
            if len(self.examples) < 5:
                self.examples.append(f"{type(exc).__name__}: {exc} <- {shown[:120]!r}")
        took = time.perf_counter() - start
        self.slowest = max(self.slowest, took)
        self.slow += took > SLOW_S
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.name, "cases": self.cases, "crashes": self.crashes,
                "slow": self.slow, "lost_rows": self.lost, "clean_errors": self.clean_errors,
                "recovered_lines": self.recovered,
                "slowest_ms": round(self.slowest * 1000, 1), "examples": self.examples}


def _settings(cases: int, seed: int) -> Callable:
    return lambda test: settings(
        max_examples=cases, deadline=None, database=None, derandomize=False,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )(_seeded(test, seed))


def _seeded(test: Callable, seed: int) -> Callable:
    from hypothesis import seed as hypothesis_seed

    return hypothesis_seed(seed)(test)


# -- the CSV importer --------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("abc xyz,\"'\n\r;\t")), max_size=60)
_JUNK = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
# Times no row can have: unreadable, or outside what UTC holds.
_BAD_TIME = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "²", "2024-13-01", "9" * 40,
    "Mon Jan 01 00:30:00 +0100 0001", "2024-05-01T10:00:00+25:00", "yesterday",
])
# Times of every kind, for the Twitter format (where they are not all bad).
_TIME = st.one_of(_BAD_TIME, st.sampled_from(["", "2024-05-01", "Tue Oct 31 21:45:10 +0000 2017"]))


def _row(*fields: str) -> str:
    # With "\r\n" as its terminator the writer quotes a field holding a lone \r too (with
    # "\n" it would not, and no reader could find where such a row ends).
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(fields)
    return out.getvalue()[:-2] + "\n"


@st.composite
def _bad_row(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:  # a quote opened and never closed
        return f'cX,eve,customer,2024-05-02T11:00:00Z,"{draw(_TEXT).replace(chr(34), "")}\n'
    if kind == 1:  # a time nobody can read, or one UTC cannot hold
        return _row("cX", "eve", "customer", draw(_BAD_TIME), "bad time")
    if kind == 2:  # arbitrary text, on one line
        return draw(_JUNK).replace("\n", " ").replace("\r", " ") + "\n"
    if kind == 3:
        return _row("cX", "eve", draw(st.sampled_from(["pirate", "²", "x" * 300])), "", "role")
    if kind == 5 and draw(st.booleans()):  # a stray NUL: a value like any other, not binary
        return _row("cX", "eve\0", "pirate", "", "a NUL")
    if kind == 4:  # arbitrary fields, never the header's five
        fields = draw(st.lists(_JUNK.map(lambda t: t.replace("\n", "").replace("\r", "")),
                               max_size=9).filter(lambda f: len(f) != 5))
        return _row(*fields) if fields else "x\n"
    return _row("", "eve", "customer", "2024-05-02T11:00:00Z", "no id")


@st.composite
def _csv_file(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines, good = [], []
    for n in range(draw(st.integers(0, 15))):
        lines += draw(st.lists(_bad_row(), max_size=2))
        text = f"row-{n:03d}".replace("0", "o").replace("1", "i") + " " + draw(_TEXT)
        role = draw(st.sampled_from(["customer", "agent", "", "Agent"]))
        lines.append(_row(f"c{n % 4}", "sam", role, f"2024-05-01T10:{n:02d}:00Z", text))
        good.append(text.strip())
    lines += draw(st.lists(_bad_row(), max_size=2))
    return GENERIC + "".join(lines), good


def fuzz_csv(cases: int, seed: int, folder: Path) -> Tally:
    tally = Tally("csv importer (sync csv)")
    path = folder / "fuzz.csv"

    def parse(content: str, good: list[str]) -> None:
        path.write_text(content, encoding="utf-8", newline="")
        threads = list(ConversationsSource({}, None).fetch(path=str(path)))
        bodies = [m.body for t in threads for m in t.messages]
        lost = set(good) - set(bodies)
        # A message holding a good row's marker must be that row alone: never a blob.
        blobs = [b for b in bodies if b not in good and "row-" in b]
        tally.recovered += len(bodies) - len(good) + len(lost) - len(blobs)
        if lost or blobs:
            tally.lost += len(lost)
            raise AssertionError(f"{len(lost)} good rows lost, {len(blobs)} merged")

    @_settings(cases, seed)
    @given(_csv_file())
    def run(file: tuple[str, list[str]]) -> None:
        tally.run(lambda: parse(*file), file[0])

    run()
    return tally


def fuzz_twcs(cases: int, seed: int, folder: Path) -> Tally:
    """The Twitter format with arbitrary ids, inbound flags and times: never a traceback."""
    tally = Tally("csv importer, Twitter format")
    path = folder / "twcs.csv"
    header = ("tweet_id,author_id,inbound,created_at,text,response_tweet_id,"
              "in_response_to_tweet_id\n")
    ids = st.one_of(st.integers(0, 10**25).map(str), st.sampled_from(["²", "", "1e5", "٣"]),
                    _JUNK.map(lambda t: t.replace("\n", "")))

    @_settings(cases, seed)
    @given(st.lists(st.tuples(ids, st.sampled_from(["True", "False", "", "maybe"]), _TIME,
                              _TEXT, ids, ids), max_size=12))
    def run(rows: list[tuple[str, ...]]) -> None:
        content = header + "".join(_row(i, "a", b, w, t, r, p) for i, b, w, t, r, p in rows)

        def parse() -> None:
            path.write_text(content, encoding="utf-8", newline="")
            list(ConversationsSource({}, None).fetch(path=str(path)))

        tally.run(parse, content)

    run()
    return tally


# -- issue URLs --------------------------------------------------------------------------

_HOST = st.one_of(
    st.sampled_from(["gitlab.com", "github.com", "gitlab.example.com", "[::1]", "[...",
                     "[::1", "127.0.0.1", "exa mple.com", "", "xn--bcher-kva.example",
                     "user:pass@gitlab.com", "gitlab.com:99999", "gitlab.com:port",
                     "gitlab.com:-1", "ä.example"]),
    _JUNK.map(lambda t: t.replace("/", "")),
)
_PATH = st.one_of(
    st.sampled_from(["/acme/app/-/issues/42", "/acme/app/issues/7", "/g/s/p/-/work_items/3",
                     "/acme/app/-/issues/" + "9" * 5000, "/acme/app/-/issues/²", "/-/issues/1",
                     "/groups/g/-/issues/1", "/a/b/issues/1?x=[", "/%2e%2e/%00/-/issues/1"]),
    _JUNK.map(lambda t: "/" + t),
)


def fuzz_urls(cases: int, seed: int) -> Tally:
    tally = Tally("issue URL parsing (add URL)")

    def parse(url: str) -> None:
        check_url(url)
        gitlab_issue(url, "https://gitlab.example.com")
        github_issue(url)

    @_settings(cases, seed)
    @given(st.sampled_from(["http://", "https://", "HTTP://", "https:", "ftp://"]), _HOST,
           _PATH)
    def run(scheme: str, host: str, path: str) -> None:
        url = scheme + host + path
        tally.run(lambda: parse(url), url)

    run()
    return tally


# -- add FILE ----------------------------------------------------------------------------


def fuzz_files(cases: int, seed: int, folder: Path) -> Tally:
    tally = Tally("add FILE")
    store = Store(folder / "files.db")
    path = folder / "ticket.md"

    def add(data: bytes) -> None:
        path.write_bytes(data)
        store.upsert_thread(ticket_from_file(str(path)))

    text = st.one_of(
        st.binary(max_size=300),
        _JUNK.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(["# Title", "", "   ", "#", "# ", "\x0b", "\u2028", "body",
                                  "\r", "#\tTab"]), max_size=8)
        .map(lambda lines: "\n".join(lines).encode()),
    )

    @_settings(cases, seed)
    @given(text)
    def run(data: bytes) -> None:
        tally.run(lambda: add(data), repr(data))

    run()
    store.close()
    return tally


# -- a large file with broken rows -------------------------------------------------------


def large_file_timing(folder: Path, rows: int = 100_000, broken: int = 1_000) -> dict[str, Any]:
    """Seconds to read `rows` good rows with and without `broken` open quotes among them."""
    rng = random.Random(7)
    good = [_row(f"c{n % 5000}", "sam", "agent" if n % 2 else "customer",
                 f"2024-05-{1 + n % 28:02d}T10:{n % 60:02d}:00Z", f"message {n}, fine")
            for n in range(rows)]
    dirty = list(good)
    for at in sorted(rng.sample(range(rows), broken), reverse=True):
        dirty.insert(at, 'cX,eve,customer,2024-05-02T11:00:00Z,"never closed\n')
    timings: dict[str, Any] = {"rows": rows, "broken": broken}
    for name, lines in (("clean", good), ("with_broken", dirty)):
        path = folder / f"{name}.csv"
        path.write_text(GENERIC + "".join(lines))
        start = time.perf_counter()
        source = ConversationsSource({}, None)
        messages = sum(len(t.messages) for t in source.fetch(path=str(path)))
        timings[f"{name}_s"] = round(time.perf_counter() - start, 3)
        timings[f"{name}_messages"] = messages
        timings[f"{name}_skipped"] = source.skipped
        if name == "clean":
            start = time.perf_counter()
            with path.open(newline="") as handle:
                sum(1 for _ in csv.reader(handle))
            timings["csv_reader_alone_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            with path.open(newline="") as handle:
                next(handle)
                sum(1 for _ in records(handle, 5, lambda f: True, lambda n, w: None))
            timings["row_safe_records_s"] = round(time.perf_counter() - start, 3)
    timings["broken_over_clean"] = round(timings["with_broken_s"] / timings["clean_s"], 2)
    timings["records_over_csv_reader"] = round(
        timings["row_safe_records_s"] / timings["csv_reader_alone_s"], 2)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    csv.field_size_limit(2**31 - 1)
    with tempfile.TemporaryDirectory(prefix="understudy-fuzz-") as folder:
        where = Path(folder)
        tallies = [fuzz_csv(args.cases, args.seed, where), fuzz_twcs(args.cases, args.seed, where),
                   fuzz_urls(args.cases, args.seed), fuzz_files(args.cases, args.seed, where)]
        large = large_file_timing(where)
    results = {"targets": [t.to_dict() for t in tallies], "large_file": large}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("| target | cases | crashes | over 1 s | good rows lost | one-line errors | "
              "slowest |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for t in tallies:
            print(f"| {t.name} | {t.cases:,} | {t.crashes} | {t.slow} | {t.lost} | "
                  f"{t.clean_errors:,} | {t.slowest * 1000:.0f} ms |")
            for example in t.examples:
                print(f"  crash: {example}", file=sys.stderr)
        print()
        print(json.dumps(large))
    failed = any(t.crashes or t.slow or t.lost for t in tallies)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
