"""The local backend's default model, SmolLM2-135M-Instruct, measured on this machine.

    python benchmarks/local_model.py [--budget-minutes 4] [--max-tokens 64] [--prompt-budget 768]

One run, in order: the one-time conversion of the bundled GGUF file and the reload of the
converted folder; prompt and new tokens per second for a demo ticket with its evidence; a LoRA
run on the demo workspace's training examples within a time budget (time per 100 examples,
peak memory, adapter size); then the backtest of the demo's held-out threads (the adapter never
saw them) with `retrieval`, `local` on the base model, and `local` with the tuned adapter:
similarity, ROUGE-L, word F1 against the team's reply, abstention and time per draft.
Everything happens under --workdir (a fresh cache and workspace); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    result: dict = {"date": time.strftime("%Y-%m-%d"), "load": os.getloadavg()[0],
                    "settings": {k: v for k, v in vars(args).items() if k != "workdir"}}
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
