"""When not to answer: abstention before and after `eval calibrate` on the workspace itself.

Thread workspace: the StackFAQ dev half, one thread per FAQ, with every fourth thread's answers
removed from the knowledge base; the held-out rephrasings are the tickets (those of a removed
thread must abstain; the others must be answered, from their own thread first). Docs-only
workspace: npm's command docs as shipped with npm; npm questions must be answered from the
right command's page, questions about neighbouring tools (pip, conda, cargo, ...) must abstain.
Each is measured with the SemEval default calibration, then `understudy eval calibrate` runs
on the workspace (timed) and the same tickets are judged again; "score only" is the same fit's
cases judged by the fused score alone (the calibration before the margin was a feature).

    PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 python benchmarks/abstention.py \
        --stackfaq /work/shared/benchmarks/stackfaq/stackfaq-dev.json \
        --docs /usr/lib/node_modules/npm/docs/content/commands
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from understudy.answer import Answerer
from understudy.errors import UsageError
from understudy.evaluate.workspace_calibration import (
    DEFAULT_PRECISION,
    Case,
    choose_threshold,
    fit_map,
    fit_workspace,
)
from understudy.judge import SEMEVAL_DEFAULT, Calibration, Judge
from understudy.records import Message, Thread
from understudy.workspace import Workspace

NPM_QUESTIONS = [  # (question, the command page that answers it)
    ("How do I remove a package from node_modules and package.json?", "npm-uninstall"),
    ("How can I see which of my dependencies have newer versions?", "npm-outdated"),
    ("How do I publish my package to the registry?", "npm-publish"),
    ("Install exactly what the lockfile says in a CI job", "npm-ci"),
    ("How do I find and fix security vulnerabilities in my dependencies?", "npm-audit"),
    ("How do I log in to the npm registry from the command line?", "npm-login"),
    ("Create a tarball of my package without publishing it", "npm-pack"),
    ("How do I symlink a local package folder for development?", "npm-link"),
    ("Show the dependency tree of installed packages", "npm-ls"),
    ("How to mark a version of my package as deprecated?", "npm-deprecate"),
    ("How do I run a script defined in package.json?", "npm-run"),
    ("How do I bump the version of my package?", "npm-version"),
    ("Clear or verify the npm cache", "npm-cache"),
    ("Remove extraneous packages not listed in package.json", "npm-prune"),
    ("How do I add a dist-tag like beta to a published version?", "npm-dist-tag"),
    ("Set a config value such as the registry URL", "npm-config"),
    ("Why is this package installed? which dependency requires it", "npm-explain"),
    ("How do I create a package.json for a new project?", "npm-init"),
    ("Update all packages to the latest version allowed by semver ranges", "npm-update"),
    ("Run a command from a package without installing it globally", "npm-exec"),
]
NEIGHBOUR_QUESTIONS = [
    "How do I install a Python package with pip into a virtualenv?",
    "pip install fails with externally-managed-environment error",
    "How do I create a conda environment with Python 3.11?",
    "conda activate says the shell is not configured",
    "How do I add a crate dependency in Cargo.toml?",
    "cargo build fails with linker cc not found",
    "How do I install a Ruby gem for one user only?",
    "bundle install cannot find gem version in the lockfile",
    "apt-get update fails with a GPG key error NO_PUBKEY",
    "How do I pin a Homebrew formula to an old version?",
    "poetry lock is very slow resolving dependencies",
    "How do I exclude a transitive dependency in Maven pom.xml?",
    "gradle build cannot resolve dependency from a private repository",
    "How do I vendor Go modules with go mod vendor?",
    "composer require runs out of memory in PHP",
    "How do I build a wheel for my Python project with setuptools?",
    "dotnet restore cannot find a NuGet package source",
    "How do I upgrade pip itself on Windows?",
    "mamba vs conda which solver is used by default",
    "rustup how to switch to the nightly toolchain",
]


def _ticket(text: str) -> Thread:
    return Thread("bench", text[:40], "", text,
                  messages=[Message("q", "customer", "", "", kind="question")])


def _calibrate(home: Path, target: float | None) -> dict:
    """`understudy eval calibrate` on the workspace, as a user runs it, timed."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "understudy", "--home", str(home), "eval", "calibrate",
               "--json"] + ([] if target is None else ["--target", str(target)])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode != 0:
        return {"stored": False, "exit": done.returncode, "seconds": seconds,
                "output": (done.stdout + done.stderr)[-2000:]}
    return {**json.loads(done.stdout), "seconds": seconds}


def _score_only(ws: Workspace, target: float) -> Judge | None:
    """The workspace's fit judged by the fused score alone, as before the margin."""
    try:
        fit = fit_workspace(ws, target)
    except UsageError as exc:  # a docs-only workspace is refused: no row
        print(f"score only: {exc}", file=sys.stderr)
        return None
    cases = [Case(c.kind, c.key, c.score, c.right) for c in fit.cases]
    a, _, _ = fit_map(cases, with_margin=False)
    score, reached, _ = choose_threshold(cases, target)
    if not reached:
        return None
    return Judge(Calibration(a, -a * score, 0.5, "workspace-score-only", "this workspace"))


def _judged(answerer: Answerer, tickets: list[tuple[Thread, bool, object]],
            judge: Judge, right) -> dict[str, float]:  # noqa: ANN001
    """Share of unanswerable tickets abstained, answerable answered, right first among those."""
    abstained = answered = right_first = unanswerable = answerable = 0
    for ticket, can, expected in tickets:
        ranked = answerer.evidence(ticket)
        verdict = judge.before_compose(ranked, generates=False)
        if not can:
            unanswerable += 1
            abstained += verdict.abstained
        else:
            answerable += 1
            if not verdict.abstained:
                answered += 1
                right_first += right(ranked[0], expected)
    return {"unanswerable_abstained": round(100 * abstained / max(unanswerable, 1), 1),
            "answerable_answered": round(100 * answered / max(answerable, 1), 1),
            "right_first_answered": round(100 * right_first / max(answered, 1), 1),
            "unanswerable": unanswerable, "answerable": answerable,
            "threshold": round(judge.threshold, 4), "calibration": judge.calibration.name}


def _before_after(home: Path, tickets: list, right, target: float | None) -> dict:  # noqa: ANN001
    ws = Workspace(home)
    ws.index.build()
    answerer = Answerer(ws)
    before = _judged(answerer, tickets, Judge(SEMEVAL_DEFAULT), right)
    fit = _calibrate(home, target)
    ws = Workspace(home)
    answerer = Answerer(ws)
    after = _judged(answerer, tickets, answerer.judge, right)
    results = {"before": before, "after": after, "fit": fit}
    score_only = _score_only(ws, DEFAULT_PRECISION if target is None else target)
    if score_only is not None:
        results["score_only"] = _judged(answerer, tickets, score_only, right)
    return results


def stackfaq_workspace(path: Path, home: Path) -> list[tuple[Thread, bool, int]]:
    """StackFAQ's threads written into the workspace `home`, every fourth one without its
    answers; returns the tickets: (rephrasing, answerable or not, the thread that answers it)."""
    pairs = json.loads(path.read_text(encoding="utf-8"))["root"]["qapair"]
    ws = Workspace(home)
    ids = {}
    for n, pair in enumerate(pairs):
        answers = pair["answer"]
        answers = [answers] if isinstance(answers, str) else [a for a in answers if a]
        if n % 4 == 3:  # the answers missing from the knowledge base
            answers = []
        stamp = f"2024-01-01T{n // 60:02d}:{n % 60:02d}:00Z"
        messages = [Message("q", "asker", pair["question"], stamp, kind="question")]
        messages += [Message(f"{n}-{k}", "team", a, stamp.replace("2024-01-01", "2024-01-02"),
                             kind="reply", is_team=True) for k, a in enumerate(answers)]
        ws.store.upsert_thread(Thread("stackfaq", str(n), f"https://faq.example/{n}",
                                      pair["question"], "closed", stamp, stamp, "faq", [],
                                      messages))
    ids = {t.external_id: t.id for t in ws.store.threads()}
    tickets = [(_ticket(text.strip()), n % 4 != 3, ids[str(n)])
               for n, pair in enumerate(pairs) for text in pair.get("rephr") or []
               if text and text.strip() not in ("", "*")]
    ws.close()
    return tickets


def stackfaq(path: Path, home: Path, target: float | None = None) -> dict:
    tickets = stackfaq_workspace(path, home)
    return _before_after(home, tickets, lambda e, want: e.thread_id == want, target)


def store_standins(home: Path, path: Path) -> int:
    """The hand-written questions of `path` stored as `jobs synth-qa` would store them, each on
    the first passage of the page that answers it; returns how many passages got questions."""
    from understudy.jobs.synth_qa import state_key

    ws = Workspace(home)
    firsts: dict[str, object] = {}
    for passage in ws.store.passages():
        page = Path(passage.path).stem
        firsts.setdefault(page, passage)
    by_page: dict[str, list[str]] = {}
    for question, page in json.loads(path.read_text(encoding="utf-8"))["questions"]:
        by_page.setdefault(page, []).append(question)
    for page, questions in by_page.items():
        passage = firsts[page]
        ws.store.set_state(state_key(passage), {
            "hash": passage.content_hash(), "model": "hand-written stand-ins",
            "questions": len(questions), "dropped": {}, "usage": {},
            "pairs": [{"question": q, "answer": passage.text[:200]} for q in questions]})
    ws.close()
    return len(by_page)


def docs(folder: Path, home: Path, target: float | None = None,
         standins: Path | None = None) -> dict:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([sys.executable, "-m", "understudy", "--home", str(home), "sync", "docs",
                    str(folder)], check=True, capture_output=True, env=env)
    if standins is not None:
        store_standins(home, standins)
    tickets = [(_ticket(q), True, page) for q, page in NPM_QUESTIONS]
    tickets += [(_ticket(q), False, None) for q in NEIGHBOUR_QUESTIONS]
    return _before_after(home, tickets, lambda e, page: f"{page}." in (e.url or e.title)
                         or f"/{page}" in (e.url or ""), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stackfaq", type=Path)
    parser.add_argument("--docs", type=Path)
    parser.add_argument("--standins", type=Path, help="docs: hand-written questions stored as "
                        "`jobs synth-qa` results before calibrating (benchmarks/data/"
                        "npm_standin_questions.json)")
    parser.add_argument("--target", type=float, help="eval calibrate --target (its default "
                        "when left out)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.stackfaq:
            results["stackfaq"] = stackfaq(args.stackfaq, Path(tmp) / "threads", args.target)
        if args.docs:
            results["docs"] = docs(args.docs, Path(tmp) / "docs", args.target, args.standins)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
