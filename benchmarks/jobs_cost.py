"""`jobs synth-qa` and `jobs annotate-code` on the bundled sample docs and on understudy's own
model-client code: calls, tokens and estimated versus reported cost, and what a resumed run asks.

    python benchmarks/jobs_cost.py [--questions N] [--json]

Runs offline against the local test server (tests/openai_server.py), which bills prompt tokens
as OpenAI documents them (tokens of each message plus its overhead) and completion tokens with
the model's tokenizer. Its replies are written from the prompt: questions from the passage's
title, answers from its first sentences ("Is there a limit ..." is declared unanswerable),
notes from the code's first lines, so completions have realistic lengths.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from openai_server import FakeOpenAI  # noqa: E402

from understudy.jobs import AnnotateCode, SynthQA  # noqa: E402
from understudy.llm import client_for  # noqa: E402
from understudy.sources import sync  # noqa: E402
from understudy.workspace import Workspace  # noqa: E402

MODEL = "gpt-4o-mini"
DOCS = ROOT / "src" / "understudy" / "data" / "sample" / "docs"
CODE = ROOT / "src" / "understudy" / "llm"
CHAT = "/v1/chat/completions"


def _between(text: str, tag: str) -> str:
    found = re.search(rf"<{tag}[^>]*>\n(.*?)\n</{tag}>", text, re.S)
    return found.group(1) if found else ""


class ScriptedServer(FakeOpenAI):
    """The test server, replying to each job prompt with a plausible JSON answer."""

    def chat(self, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        if "<code " in prompt:
            code = _between(prompt, "code").splitlines()
            reply = {"note": f"Defines {code[0].strip()[:80]} It is called by the model client; "
                             "watch for the errors it raises and the settings it reads. "
                             + " ".join(line.strip() for line in code[1:6])[:300]}
        elif "<question>" in prompt:
            passage = _between(prompt, "passage").split("\n", 1)[-1]
            sentences = re.split(r"(?<=[.!?])\s+", passage.strip())
            question = _between(prompt, "question")
            reply = ({"unanswerable": True} if question.startswith("Is there a limit")
                     else {"answer": " ".join(sentences[:2]) + " [1]"})
        else:
            title = _between(prompt, "passage").split("\n", 1)[0].removeprefix("Title: ")
            wanted = int(re.search(r"Write (\d+) different", prompt).group(1))
            forms = ["How do I {}?", "What does the documentation say about {}?",
                     "Is there a limit on {}?", "Why does {} fail?", "Where do I set up {}?"]
            reply = {"questions": [forms[i % len(forms)].format(title.lower())
                                   for i in range(wanted)]}
        self.enqueue(json.dumps(reply))
        return super().chat(body)


def _run(job_class, ws: Workspace, server: ScriptedServer, fail_after: int | None = None,
         **kwargs) -> dict:
    """One run; with `fail_after`, the server fails every request after that many calls."""
    client = client_for(ws, "openai", MODEL)
    client.sleep = lambda seconds: None  # retries of the injected failures need no waiting
    job = job_class(ws, MODEL, client=client, **kwargs)
    estimate = job.estimate()
    sent = len(server.calls(CHAT))

    def progress(report):
        if fail_after is not None and report.calls == fail_after and not server.failures:
            server.fail_next(500, times=10_000)  # the server goes down for good

    report = job.run(progress)
    server.failures.clear()
    failed = sum(1 for c in ws.store.calls() if c.get("error"))
    return {"estimate": estimate.to_json(), "report": report.to_json(),
            "http_requests": len(server.calls(CHAT)) - sent, "failed_calls_logged": failed}


def measure(questions: int) -> dict:
    results = {}
    with ScriptedServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["OPENAI_BASE_URL"] = server.url
        os.environ["OPENAI_API_KEY"] = "test-key"
        for name, job_class, kwargs in (("synth-qa", SynthQA, {"questions": questions}),
                                        ("annotate-code", AnnotateCode, {})):
            whole = Workspace(Path(tmp) / f"{name}-whole")
            halted = Workspace(Path(tmp) / f"{name}-halted")
            for ws in (whole, halted):
                sync(ws, "docs", path=DOCS)
                sync(ws, "code", path=CODE)
            first = _run(job_class, whole, server, **kwargs)
            again = _run(job_class, whole, server, **kwargs)
            half = first["report"]["calls"] // 2 + 1  # mid-item for synth-qa
            stopped = _run(job_class, halted, server, fail_after=half, **kwargs)
            resumed = _run(job_class, halted, server, **kwargs)
            results[name] = {"first": first, "rerun": again, "stopped": stopped,
                             "resumed": resumed}
            for ws in (whole, halted):
                ws.close()
    return results


def _table(results: dict) -> str:
    lines = ["| job | items | calls est. / made | prompt tokens est. / billed | completion "
             "tokens est. / billed | cost est. / billed | rerun: HTTP requests | stopped halfway, "
             "then resumed: calls made (uninterrupted) / from the cache |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        est, rep = r["first"]["estimate"], r["first"]["report"]
        stopped, resumed = r["stopped"]["report"], r["resumed"]["report"]
        succeeded = stopped["calls"] + resumed["calls"]
        lines.append(
            f"| {name} | {est['items']} | {est['calls']} / {rep['calls']} | "
            f"{est['prompt_tokens']:,} / {rep['prompt_tokens']:,} | "
            f"{est['completion_tokens']:,} / {rep['completion_tokens']:,} | "
            f"${est['cost']:.5f} / ${rep['cost']:.5f} | {r['rerun']['http_requests']} | "
            f"{succeeded} ({rep['calls']}) / {resumed['cached']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args.questions)
    print(json.dumps(results, indent=2) if args.json else _table(results))


if __name__ == "__main__":
    main()
