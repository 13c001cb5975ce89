"""Where planted secrets end up: model requests, exports, the calls log, errors and drafts.

Usage: PYTHONPATH=src python3 benchmarks/secrets_corpus.py [--seed 0] [--control 10]

A fresh workspace gets fake secrets of every kind in tests/fake_secrets.py (49 kinds: tokens,
keys, PEM blocks, passwords in URLs, configs and command lines, emails, phones, cards, IBANs),
each planted four times with a different value: in a past team reply, a docs page
(`sync docs`), a code file (`sync code`) and a new ticket. Then, through the real command line
and the local OpenAI-compatible test server (tests/openai_server.py):

  a. model requests as received on the wire: `answer --backend openai` of every ticket (with
     `low_confidence: mark`, so that no ticket is left unasked for want of confidence),
     `jobs synth-qa` and `jobs annotate-code`;
  b. `dataset build` + `dataset export` in the chat, completion and hf formats;
  c. the `calls` table (request, response, error);
  d. error messages of `add`, `answer`, `sync docs` and `sync gitlab` given URLs, GITLAB_URL
     and OPENAI_BASE_URL carrying a secret, and of a server that refuses the key;
  e. retrieval drafts (`answer --json`, the default backend) of every ticket, as the
     answerer returns them and after `safe_outgoing`.

Each channel reports how many planted secrets appear in it verbatim (target 0) and how many
masks ("[REDACTED:") it carries, which shows the channel saw the planted text at all. A control
re-runs `--control N` tickets with `mask_for_local_models: false` (allowed only for a server on
this machine) and counts what reaches the wire then, which shows the check can see a leak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from factories import make_thread  # noqa: E402
from fake_secrets import KINDS  # noqa: E402
from openai_server import FakeOpenAI  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

MODEL = "gpt-4o-mini"
PLACES = ("reply", "doc", "code", "ticket")
runner = CliRunner()


def topic(kind: str) -> str:
    return kind.replace("_", " ")


def plant(rng: random.Random) -> dict[tuple[str, str], tuple[str, str]]:
    """(place, kind) -> (snippet, secret), a new value for each place."""
    return {(place, kind): make(rng) for kind, make in KINDS.items() for place in PLACES}


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from understudy.cli import app

    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def build_workspace(home: Path, planted: dict, folder: Path) -> list[Path]:
    """Threads, docs, code and ticket files with the planted secrets; returns the tickets."""
    from understudy.workspace import Workspace

    workspace = Workspace(home)
    for number, kind in enumerate(KINDS, start=1):
        snippet, _ = planted[("reply", kind)]
        workspace.store.upsert_thread(make_thread(
            number, f"Setting up {topic(kind)} for the deploy",
            f"How do I configure {topic(kind)} for the nightly deploy? It fails to connect.",
            [("maria", f"For {topic(kind)} this worked for us:\n\n{snippet}\n\nThen restart "
              "the deploy job.", True)]))
    workspace.close()
    docs, code = folder / "docs", folder / "code"
    docs.mkdir()
    code.mkdir()
    for kind in KINDS:
        snippet, _ = planted[("doc", kind)]
        (docs / f"{kind}.md").write_text(
            f"# Configuring {topic(kind)}\n\nThe nightly deploy reads {topic(kind)} from its "
            f"settings. An example:\n\n```\n{snippet}\n```\n\nRestart the job afterwards.\n")
        snippet, _ = planted[("code", kind)]
        (code / f"{kind}.py").write_text(
            f'def configure_{kind}():\n    """Connect the {topic(kind)} client of the nightly '
            f'deploy."""\n    settings = {snippet!r}\n    return connect(settings)\n')
    tickets = []
    for kind in KINDS:
        snippet, _ = planted[("ticket", kind)]
        ticket = folder / f"ticket-{kind}.md"
        ticket.write_text(f"# Setting up {topic(kind)} for the deploy\n\nHow do I configure "
                          f"{topic(kind)} for the nightly deploy? It fails to connect. Mine:\n\n"
                          f"{snippet}\n")
        tickets.append(ticket)
    for args in (("sync", "docs", str(docs)), ("sync", "code", str(code)), ("index",)):
        code_, output = cli(*args)
        assert code_ == 0, output
    return tickets


def found(text: str, planted: dict) -> set[tuple[str, str]]:
    """The planted secrets that occur in `text`, as (place, kind)."""
    return {key for key, (_, secret) in planted.items() if secret in text}


def report(name: str, text: str, planted: dict, note: str = "") -> dict:
    leaks = found(text, planted)
    row = {"channel": name, "secrets": len(leaks), "masks": text.count("[REDACTED:"),
           "kinds": sorted({kind for _, kind in leaks}), "note": note}
    print(f"{name}: {len(leaks)} secrets, {row['masks']} masks {row['kinds'][:8]}",
          file=sys.stderr)
    return row


def wire(server: FakeOpenAI) -> str:
    return json.dumps([r for r in server.requests if r["path"].startswith("/v1/")],
                      ensure_ascii=False)


def error_messages(planted: dict, server: FakeOpenAI, folder: Path) -> str:
    """What the command line prints when URLs and settings carry a planted secret."""
    out = []
    for kind in KINDS:
        _, secret = planted[("ticket", kind)]
        raw = quote(secret, safe="")  # as it would sit in a URL
        out.append(cli("add", f"https://ci:{raw}@127.0.0.1:9/g/p/-/issues/1",
                       env={"GITLAB_TOKEN": "x"})[1])
        out.append(cli("answer", f"https://127.0.0.1:9/g/p/-/issues/1?private_token={raw}",
                       env={"GITLAB_TOKEN": "x"})[1])
        out.append(cli("sync", "docs", f"https://oauth2:{raw}@127.0.0.1:9/g/docs.git")[1])
        out.append(cli("sync", "gitlab", "--project", "g/p",
                       env={"GITLAB_URL": f"https://bot:{raw}@127.0.0.1:9/",
                            "GITLAB_TOKEN": "x"})[1])
        server.fail_next(401)
        base = server.url.replace("http://", f"http://u:{raw}@")
        out.append(cli("answer", str(folder / f"ticket-{kind}.md"), "--backend", "openai",
                       "--model", MODEL, "--json", env={"OPENAI_BASE_URL": base})[1])
    return "\n".join(out)


def encoded(planted: dict) -> dict:
    """The planted secrets as they were put into URLs."""
    return {key: (snippet, quote(secret, safe="")) for key, (snippet, secret) in planted.items()}


def run(seed: int, control: int) -> list[dict]:
    rng = random.Random(seed)
    planted = plant(rng)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as server:
        folder = Path(tmp)
        home = folder / "home"
        os.environ.update(UNDERSTUDY_HOME=str(home), OPENAI_BASE_URL=server.url,
                          OPENAI_API_KEY="test-key")
        tickets = build_workspace(home, planted, folder)
        from understudy.workspace import Workspace

        # every ticket reaches the model: one too unsure is marked, not left unasked
        Workspace(home).settings.set("low_confidence", "mark")
        print(f"planted {len(planted)} secrets of {len(KINDS)} kinds", file=sys.stderr)

        code, output = cli("answer", *map(str, tickets), "--json")
        assert code == 0, output
        drafts = json.loads(output)
        code, output = cli("answer", *map(str, tickets), "--backend", "openai", "--model", MODEL,
                           "--json")
        assert code == 0, output
        answered = len(server.calls("/v1/chat/completions"))
        for job in ("synth-qa", "annotate-code"):
            cli("jobs", job, "--model", MODEL, "--yes")
        requests = len(server.calls("/v1/chat/completions"))
        rows.append(report("a. model requests on the wire", wire(server), planted,
                           f"{answered} from answer, {requests - answered} from jobs"))

        exports = []
        code, output = cli("dataset", "build")
        assert code == 0, output
        for fmt in ("chat", "completion", "hf"):
            target = folder / f"export-{fmt}"
            code, output = cli("dataset", "export", "--format", fmt, "--output", str(target))
            assert code == 0, output
            exports += [p.read_text() for p in sorted(target.glob("*.jsonl"))]
        rows.append(report("b. dataset export files", "\n".join(exports), planted,
                           f"{sum(e.count(chr(10)) for e in exports)} lines in 3 formats"))

        db = sqlite3.connect(home / "understudy.db")
        logged = db.execute("SELECT request, response, error FROM calls").fetchall()
        db.close()
        rows.append(report("c. calls log rows", json.dumps(logged, ensure_ascii=False), planted,
                           f"{len(logged)} rows"))

        messages = error_messages(planted, server, folder)
        leaks = found(messages, planted) | found(messages, encoded(planted))
        rows.append({"channel": "d. error messages", "secrets": len(leaks),
                     "masks": messages.count("[REDACTED"),
                     "kinds": sorted({k for _, k in leaks}),
                     "note": f"{5 * len(KINDS)} failing commands"})
        print(f"d: {len(leaks)} secrets", file=sys.stderr)

        text = json.dumps([d.get("text", "") for d in drafts], ensure_ascii=False)
        rows.append(report("e. retrieval drafts", text, planted, f"{len(drafts)} drafts"))
        from understudy.text.outgoing import safe_outgoing

        outgoing = json.dumps([safe_outgoing(d.get("text", "")) for d in drafts],
                              ensure_ascii=False)
        rows.append(report("e. the same drafts through safe_outgoing", outgoing, planted,
                           "what leaves the machine once drafts pass it"))

        if control:
            Workspace(home).settings.set("mask_for_local_models", False)
            before = len(server.requests)
            cli("answer", *map(str, tickets[:control]), "--backend", "openai", "--model", MODEL,
                "--json")
            unmasked = json.dumps(server.requests[before:], ensure_ascii=False)
            rows.append(report("control: wire with mask_for_local_models false", unmasked,
                               planted, f"{control} tickets"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--control", type=int, default=10)
    args = parser.parse_args()
    rows = run(args.seed, args.control)
    print("| channel | planted secrets found (target 0) | masks seen | what ran |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        kinds = f" ({', '.join(row['kinds'][:6])}{', ...' if len(row['kinds']) > 6 else ''})" \
            if row["kinds"] else ""
        print(f"| {row['channel']} | {row['secrets']}{kinds} | {row['masks']} | {row['note']} |")


if __name__ == "__main__":
    main()
