"""The local backend's default model, SmolLM2-135M-Instruct, measured on this machine.

    python benchmarks/local_model.py [--budget-minutes 4] [--max-tokens 64] [--prompt-budget 768]

One run, in order: the one-time conversion of the bundled GGUF file and the reload of the
converted folder; prompt and new tokens per second for a demo ticket with its evidence; a LoRA
run on the demo workspace's training examples within a time budget (time per 100 examples,
peak memory, adapter size); then the backtest of the demo's held-out threads (the adapter never
saw them) with `retrieval`, `local` on the base model, and `local` with the tuned adapter:
similarity, ROUGE-L, word F1 against the team's reply, abstention and time per draft.
Everything happens under --workdir (a fresh cache and workspace); prints one JSON object.

    python benchmarks/local_model.py --stackfaq /work/shared/benchmarks/stackfaq/stackfaq-dev.json \
        [--limit 10] [--budget-minutes 5] [--max-tokens 48]

With --stackfaq, the same three backends on a workspace synced from the StackFAQ dev half (the
63 threads with rephrasings) through the tests' GitLab server on 127.0.0.1 instead: each
thread is an issue (title: the question; description: its first rephrasing, by a customer),
each answer a note by one of two members with Developer access (the team, as GitLab has it).
The real command does it all in subprocesses: `sync gitlab` of the first threads and `dataset
build`; then the last --limit threads arrive and a second `sync gitlab` brings them, so the
adapter that `train --backend local` tunes on the history never sees them; then `eval backtest
--limit N` with `retrieval`, `local` (base) and `local` with that adapter. The converted model
in the user cache is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def convert_and_reload(cache: Path, convert: bool = True) -> dict:
    """Seconds to convert the GGUF into the cache, and to load the converted folder again."""
    os.environ["UNDERSTUDY_CACHE"] = str(cache)
    import transformers

    from understudy.llm.local import bundled_gguf, converted_folder, default_model_folder

    if convert:
        shutil.rmtree(converted_folder(), ignore_errors=True)
    started = time.perf_counter()
    folder = default_model_folder()
    converted = time.perf_counter() - started
    started = time.perf_counter()
    transformers.AutoTokenizer.from_pretrained(folder)
    transformers.AutoModelForCausalLM.from_pretrained(folder)
    reloaded = time.perf_counter() - started
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {"gguf_bytes": bundled_gguf().stat().st_size, "converted_bytes": size,
            "convert_seconds": round(converted, 1), "reload_seconds": round(reloaded, 2)}


def generation_speed(workspace, max_tokens: int) -> dict:  # noqa: ANN001
    """Prompt tokens/s (a one-token answer) and new tokens/s for a demo ticket with evidence."""
    from understudy.answer import ticket_query
    from understudy.llm.local import LocalEngine
    from understudy.llm.options import Options
    from understudy.prompts import build_messages

    engine = LocalEngine()
    ticket = next(t for t in workspace.store.threads() if t.state == "opened")
    hits = workspace.index.search(ticket_query(ticket), k=3)
    budget = int(workspace.settings.get("prompt_budget"))
    messages = build_messages(ticket, [h.item for h in hits], budget=budget,
                              counter=lambda text: engine.count_tokens(text, ""))
    engine.generate("", messages, None, Options(max_tokens=1))  # warm up
    started = time.perf_counter()
    one = engine.generate("", messages, None, Options(max_tokens=1))
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    full = engine.generate("", messages, None, Options(max_tokens=max_tokens))
    total = time.perf_counter() - started
    new = max(full.completion_tokens - 1, 1)
    return {"prompt_tokens": one.prompt_tokens, "prompt_tokens_per_s": round(
                one.prompt_tokens / prefill, 1),
            "new_tokens": full.completion_tokens,
            "new_tokens_per_s": round(new / max(total - prefill, 1e-6), 2),
            "seconds_per_answer": round(total, 2), "sample": full.text[:300]}


def demo_workspace(home: Path, prompt_budget: int):  # noqa: ANN201
    """The demo's sample threads and docs, indexed, with training examples built."""
    from understudy.datasets import BuildOptions, build
    from understudy.demo import load_sample
    from understudy.workspace import Workspace

    shutil.rmtree(home, ignore_errors=True)
    workspace = Workspace(home)
    load_sample(workspace)
    workspace.index.build()
    workspace.settings.set("prompt_budget", prompt_budget)
    report = build(workspace, BuildOptions(budget=prompt_budget))
    return workspace, report.to_json()


def lora(workspace, budget_minutes: float, eval_limit: int,  # noqa: ANN001
         batch_size: int) -> tuple[dict, object]:
    from understudy.train import TrainOptions, trainer_for

    started = time.perf_counter()
    model = trainer_for(workspace, "local", lambda line: print(line, file=sys.stderr)).train(
        TrainOptions(budget_minutes=budget_minutes, eval_limit=eval_limit, epochs=3,
                     batch_size=batch_size))
    metrics = model.metrics
    seen = metrics["steps"] * batch_size
    return {
        "examples": metrics["examples"], "steps": metrics["steps"], "examples_seen": seen,
        "train_seconds": metrics["train_seconds"],
        "seconds_per_100_examples": round(100 * metrics["train_seconds"] / max(seen, 1), 1),
        "stopped_by_budget": metrics["stopped_by_budget"], "train_loss": metrics["train_loss"],
        "adapter_bytes": metrics["adapter_bytes"],
        "heldout_answer_f1": {"tuned": metrics.get("answer_f1"),
                              "base": metrics["baseline_metrics"].get("answer_f1"),
                              "examples": metrics.get("heldout")},
        "beats_default": metrics["beats_default"],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }, model


def backtest(workspace, backend: str, thread_ids: set[int]) -> dict:  # noqa: ANN001
    """The backtest of the given threads with `backend`, its cache cleared first (its key does
    not tell a base model from the same model with an adapter)."""
    from understudy.evaluate.backtest import Backtest, Selection, select_threads
    from understudy.train.heldout import token_f1

    shutil.rmtree(Path(workspace.home) / "backtests", ignore_errors=True)
    runner = Backtest(workspace, backend)
    threads = [t for t in select_threads(runner.index.threads, Selection(limit=10_000))
               if t.id in thread_ids]
    started = time.perf_counter()
    cases = [runner.case(t) for t in threads]
    seconds = time.perf_counter() - started
    return {
        "threads": len(cases), "similarity": _mean([c.similarity for c in cases]),
        "rouge_l": _mean([c.rouge_l for c in cases]),
        "word_f1": _mean([token_f1(c.draft, c.reference) for c in cases]),
        "abstained": _mean([float(c.abstained) for c in cases]),
        "declined": _mean([float(c.declined) for c in cases]),
        "seconds_per_draft": round(seconds / max(len(cases), 1), 2),
        "example": cases[0].draft[:300] if cases else "",
    }


TEAM = ("support-ana", "support-ben")  # project members with Developer access: the team
PROJECT = "faq/stackexchange"


def _cli(env: dict, *args: str) -> tuple[dict, float]:
    """Run `understudy ARGS --json` in a subprocess; its JSON output and wall seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "understudy", *args, "--json"], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"understudy {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout), seconds


def _add_threads(gitlab, pairs: list[dict]) -> None:  # noqa: ANN001
    """Each thread as an issue with its answers as team notes, in the file's order."""
    for n, pair in enumerate(pairs):
        rephrasings = [r.strip() for r in pair.get("rephr") or [] if r and r.strip() != "*"]
        issue = gitlab.add_issue(PROJECT, pair["question"],
                                 rephrasings[0] if rephrasings else None,
                                 author=f"customer{n}", state="closed")
        answers = pair["answer"]
        for k, answer in enumerate([answers] if isinstance(answers, str) else answers):
            if answer and answer.strip():
                gitlab.add_note(PROJECT, issue["iid"], answer, author=TEAM[(n + k) % 2])


def _backtest_cli(env: dict, limit: int, backend: str) -> dict:
    home = Path(env["UNDERSTUDY_HOME"])
    shutil.rmtree(home / "backtests", ignore_errors=True)  # its key ignores the adapter
    report, seconds = _cli(env, "eval", "backtest", "--limit", str(limit), "--backend",
                           backend, "--no-report")
    from understudy.train.heldout import token_f1

    cases, summary = report["cases"], report["summary"]
    return {"threads": len(cases), "similarity": summary["similarity"],
            "rouge_l": summary["rouge_l"],
            "word_f1": _mean([token_f1(c["draft"], c["reference"]) for c in cases]),
            "abstained": summary["abstained"],
            "declined": _mean([float(c["declined"]) for c in cases]),
            "seconds_per_draft": round(seconds / max(len(cases), 1), 2),
            "example": cases[-1]["draft"][:300] if cases else ""}


def stackfaq(args: argparse.Namespace) -> dict:
    """Retrieval, base SmolLM2 and SmolLM2 with an adapter tuned on the synced history, on the
    last --limit threads of the StackFAQ dev half synced through the tests' GitLab server."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from gitlab_server import FakeGitLab

    from understudy.workspace import Workspace

    pairs = [p for p in json.loads(args.stackfaq.read_text(encoding="utf-8"))["root"]["qapair"]
             if any(r and r.strip() not in ("", "*") for r in p.get("rephr") or [])]
    home = args.workdir / "stackfaq"
    shutil.rmtree(home, ignore_errors=True)
    gitlab = FakeGitLab(username="helper").start()
    try:
        gitlab.add_project(PROJECT)
        for name in TEAM:
            gitlab.add_member(PROJECT, name, 30)
        env = {**os.environ, "UNDERSTUDY_HOME": str(home), "GITLAB_URL": gitlab.url,
               "GITLAB_TOKEN": gitlab.token, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
        history, recent = pairs[:-args.limit], pairs[-args.limit:]
        _add_threads(gitlab, history)
        result: dict = {"threads": {"history": len(history), "backtested": len(recent)}}
        result["sync"], _ = _cli(env, "sync", "gitlab", "--project", PROJECT)
        workspace = Workspace(home)
        workspace.settings.set("prompt_budget", args.prompt_budget)
        workspace.settings.set("llm_options", {"max_tokens": args.max_tokens})
        workspace.settings.set("low_confidence", "mark")
        workspace.close()
        result["examples"], _ = _cli(env, "dataset", "build", "--kind", "reply")
        _add_threads(gitlab, recent)  # the new tickets, after the examples were built
        result["sync_recent"], _ = _cli(env, "sync", "gitlab", "--project", PROJECT)
        result["backtest"] = {"retrieval": _backtest_cli(env, args.limit, "retrieval")}
        print(json.dumps(result), file=sys.stderr, flush=True)
        result["backtest"]["local base"] = _backtest_cli(env, args.limit, "local")
        print(json.dumps(result), file=sys.stderr, flush=True)
        (model,), seconds = _cli(env, "train", "--backend", "local", "--budget-minutes",
                              str(args.budget_minutes), "--eval-limit", str(args.eval_limit),
                              "--batch-size", str(args.batch_size))
        metrics = model["metrics"]
        result["lora"] = {k: metrics.get(k) for k in (
            "examples", "steps", "train_seconds", "stopped_by_budget", "train_loss",
            "adapter_bytes", "answer_f1", "beats_default")}
        result["lora"]["wall_seconds"] = round(seconds, 1)
        workspace = Workspace(home)
        workspace.settings.set("local_adapter", model["path"])
        workspace.close()
        result["backtest"]["local tuned"] = _backtest_cli(env, args.limit, "local")
        return result
    finally:
        gitlab.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/understudy-local-bench"))
    parser.add_argument("--budget-minutes", type=float, default=4.0)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt-budget", type=int, default=768)
    parser.add_argument("--eval-limit", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--keep-model", action="store_true",
                        help="reuse the model converted by an earlier run (no conversion time)")
    parser.add_argument("--stackfaq", type=Path, metavar="PATH",
                        help="stackfaq-dev.json: measure on its dev half synced through GitLab")
    parser.add_argument("--limit", type=int, default=10,
                        help="--stackfaq: the last threads, backtested and never trained on")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    result: dict = {"date": time.strftime("%Y-%m-%d"), "load": os.getloadavg()[0],
                    "settings": {k: str(v) for k, v in vars(args).items() if k != "workdir"}}
    if args.stackfaq:
        result["stackfaq"] = stackfaq(args)
        result["load_after"] = os.getloadavg()[0]
        print(json.dumps(result, indent=2))
        return
    result["model"] = convert_and_reload(args.workdir / "cache", not args.keep_model)
    workspace, built = demo_workspace(args.workdir / "home", args.prompt_budget)
    workspace.settings.set("llm_options", {"max_tokens": args.max_tokens})
    workspace.settings.set("low_confidence", "mark")
    result["examples"] = built
    result["generation"] = generation_speed(workspace, args.max_tokens)
    result["lora"], model = lora(workspace, args.budget_minutes, args.eval_limit,
                                         args.batch_size)
    from understudy.store.training import examples

    heldout = {e.thread_id for e in examples(workspace.store, split="valid") if e.thread_id}
    result["backtest"] = {"retrieval": backtest(workspace, "retrieval", heldout)}
    workspace.settings.set("local_adapter", None)
    result["backtest"]["local base"] = backtest(workspace, "local", heldout)
    workspace.settings.set("local_adapter", model.path)
    result["backtest"]["local tuned"] = backtest(workspace, "local", heldout)
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
