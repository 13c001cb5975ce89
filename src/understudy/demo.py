"""The demo: the bundled sample product's tickets and docs, indexed and answered offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table

from .config import default_home
from .errors import InputError
from .records import Draft, Message, Thread
from .sources import SyncReport, sync
from .text.language import language_name
from .workspace import Workspace

SAMPLE_DIR = Path(__file__).parent / "data" / "sample"
# Two tickets written in French, answered from the English threads: only a multilingual
# encoder matches them, so they are part of the demo when the workspace searches with one.
FRENCH_TICKETS = SAMPLE_DIR / "threads_fr.json"
SAMPLE_DOCS_URL = "https://docs.tallybook.example"
QUESTION_LINES = 12  # lines of each ticket shown above its draft

_md = MarkdownIt("commonmark")


def demo_home() -> Path:
    """Where the demo keeps its workspace unless --home says otherwise: <home>/demo."""
    return default_home() / "demo"


def load_threads(path: Path | str = SAMPLE_DIR / "threads.json") -> list[Thread]:
    """Threads from a JSON list of GitLab-shaped issues (the sample's format)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return [
            Thread(**{**item, "messages": [Message(**m) for m in item.get("messages", [])]})
            for item in raw
        ]
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"Cannot read threads from {path} ({exc}): give a JSON list of threads"
                         ) from None


@dataclass
class SampleLoad:
    threads: list[Thread]
    new_threads: int
    docs: SyncReport


def multilingual(workspace: Workspace) -> bool:
    """True when the workspace searches with multilingual-e5-small, which matches tickets in
    one language to answers in another."""
    from .embeddings import E5

    return workspace.index.embedder.name == E5


def load_sample(workspace: Workspace) -> SampleLoad:
    """Upsert the sample threads (the French tickets too with a multilingual encoder) and sync
    the sample docs; a second load changes nothing."""
    store = workspace.store
    loaded = load_threads()
    if multilingual(workspace):
        loaded += load_threads(FRENCH_TICKETS)
    outcomes = [store.upsert_thread(thread) for thread in loaded]
    # Read back: the stored threads carry ids and the clean text of every message.
    threads = [store.find_thread(t.source, t.external_id) for t in loaded]
    docs = sync(workspace, "docs", path=str(SAMPLE_DIR / "docs"), base_url=SAMPLE_DOCS_URL,
                url_suffix=None)  # the sample site serves its pages under their own names
    return SampleLoad(threads, outcomes.count("new") + outcomes.count("updated"), docs)


def calibrate_for_scale(workspace: Workspace) -> str:
    """Fit the sample's own calibration when the encoder's scores sit on a scale of their own
    (multilingual-e5-small: about 0.7 to 1.0), where the SemEval default, fitted on MiniLM's,
    is sure of every draft and no ticket abstains; returns what to tell the user ("" when the
    default stands or a fit for this model is stored already)."""
    from .embeddings import OWN_SCORE_SCALE
    from .evaluate.workspace_calibration import calibrate_workspace
    from .judge import calibration_path, load_calibration

    model = workspace.index.embedder.name
    if model not in OWN_SCORE_SCALE:
        return ""
    if calibration_path(workspace.home).is_file() and \
            load_calibration(workspace.home, model).embedding_model == model:
        return ""
    fit = calibrate_workspace(workspace)
    if not fit.reached:
        return ""
    return (f"Calibration: the default one maps MiniLM's scores, so the sample's own was fitted "
            f"for {model} ({fit.calibration.source}).")


def open_tickets(threads: list[Thread]) -> list[Thread]:
    """The open sample tickets: state opened and no team reply (bots and system notes aside)."""
    return [
        t for t in threads
        if t.state == "opened"
        and not any(m.is_team and m.kind == "reply" for m in t.messages[1:])
    ]


def draft_open_tickets(
    workspace: Workspace, threads: list[Thread],
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[Draft], int]:
    """A draft for each open ticket: its latest existing draft, or a new one; and how many new."""
    wanted = {t.id for t in open_tickets(threads)}
    needing = {t.id for t in workspace.store.threads_needing_answer() if t.id in wanted}
    answerer = workspace.answerer() if needing else None
    drafts, created = [], 0
    for thread in open_tickets(threads):
        if thread.id in needing:
            if progress:
                progress("Drafting open tickets", created, len(needing))
            drafts.append(answerer.draft(thread))
            created += 1
        else:
            drafts.append(workspace.store.drafts(thread_id=thread.id)[-1])
    return drafts, created


def run_demo(workspace: Workspace, console: Console,
             progress: Callable[[str, int, int], None] | None = None) -> list[Draft]:
    """Load the sample, index it, draft every open ticket and show the drafts; `progress` is
    told (stage, done, total) as items are embedded and tickets drafted."""
    console.print(Panel(
        "[b]Tallybook[/] is a made-up invoicing and time-tracking app. Its team has answered "
        "issues on GitLab and written docs; understudy learns from both and drafts answers "
        "for the tickets still waiting for a reply.\n\nBelow, each open ticket is followed by "
        "its draft, a confidence, and the past answers and doc sections the draft drew on. "
        "Where nothing it knows fits, understudy abstains instead of guessing.\n"
        + ("Its embedding model is multilingual: two of the open tickets are written in French, "
           "and their nearest past answers are the team's English replies.\n"
           if multilingual(workspace) else "")
        + "Everything runs on this machine: no network, no API key.",
        title="understudy demo", title_align="left", border_style="cyan",
    ))
    console.print(f"Workspace: [b]{escape(str(workspace.home))}[/]")
    sample = load_sample(workspace)
    answered = len(sample.threads) - len(open_tickets(sample.threads))
    docs = sample.docs
    console.print(
        f"Sample data: {len(sample.threads)} issue threads ({answered} closed, "
        f"{len(open_tickets(sample.threads))} open) and {docs.new + docs.updated + docs.unchanged}"
        f" doc passages; {_fresh(sample.new_threads + docs.new + docs.updated)}."
    )
    embedding = (lambda done, total: progress("Embedding knowledge", done, total)
                 ) if progress else None
    stats = workspace.index.build(progress=embedding)
    console.print(
        f"Knowledge index: {stats.items} items (answered threads and doc passages); "
        f"{stats.embedded} embedded now, {stats.reused} reused from earlier runs."
    )
    calibrated = calibrate_for_scale(workspace)
    if calibrated:
        console.print(calibrated)
    drafts, created = draft_open_tickets(workspace, sample.threads, progress)
    shown = "drafted now" if created else "drafted on an earlier run"
    if created and created < len(drafts):
        shown = f"{created} drafted now, the rest on an earlier run"
    console.print(f"Open tickets: {len(drafts)} ({shown}).\n")
    by_id = {t.id: t for t in sample.threads}
    for number, draft in enumerate(drafts, start=1):
        show_draft(console, by_id[draft.thread_id], draft, f"{number}/{len(drafts)}")
    console.print(summary(drafts, by_id))
    return drafts


def _fresh(count: int) -> str:
    return f"{count} records stored now" if count else "already in the workspace"


def question_excerpt(body: str, max_lines: int = QUESTION_LINES) -> str:
    """The first markdown blocks of a question, whole, up to about `max_lines` lines."""
    lines = body.splitlines()
    blocks = [t.map for t in _md.parse(body) if t.level == 0 and t.map and t.nesting >= 0]
    end = 0
    for _start, stop in blocks:
        if end and stop > max_lines:
            return "\n".join(lines[:end]).strip() + "\n\n…"
        end = stop
    return body.strip()


def show_draft(console: Console, thread: Thread, draft: Draft, position: str = "") -> None:
    """One ticket (title, link, the start of its question) and its draft with sources."""
    written = f"  (in {language_name(draft.language)})" if draft.language not in (None, "en") \
        else ""
    console.rule(f"[b]Ticket {position}[/]  {escape(thread.external_id)}{written}", align="left")
    console.print(f"[b]{escape(thread.title)}[/]\n[blue]{escape(thread.url)}[/]")
    body = thread.messages[0].body if thread.messages else ""
    console.print(Padding(Markdown(question_excerpt(body), style="dim"), (1, 0, 1, 2)))
    if draft.abstained:
        verdict, colour = "abstained: not confident enough to answer", "yellow"
    else:
        verdict, colour = "answer", "green"
    title = f"Draft {draft.id} · {verdict} · confidence {draft.confidence:.2f}"
    console.print(Panel(Markdown(draft.final_text or draft.text), title=title,
                        title_align="left", border_style=colour))
    if draft.sources:
        console.print("[b]Drawn from[/] (score, kind, title, link):")
    for rank, ref in enumerate(draft.sources):
        style = "" if rank == 0 else "dim"
        console.print(f"  {ref.score:4.2f}  {ref.kind:<7} {escape(ref.title)}", style=style)
        console.print(Padding(f"[blue]{escape(ref.url)}[/]", (0, 0, 0, 8)), style=style,
                      overflow="fold", highlight=False)
    console.print()


def summary(drafts: list[Draft], threads: dict[int, Thread]) -> Table:
    """One row per open ticket: its verdict, confidence and best source."""
    table = Table(title="Drafts for the open tickets", title_justify="left", expand=True)
    table.add_column("draft", justify="right")
    table.add_column("ticket", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("conf.", justify="right")
    table.add_column("best source", ratio=1, overflow="fold")  # a title: wraps, never cut
    for draft in drafts:
        thread = threads[draft.thread_id]
        verdict = "[yellow]abstained[/]" if draft.abstained else "[green]answer[/]"
        best = draft.sources[0].title if draft.sources else "-"
        table.add_row(str(draft.id), escape(thread.external_id), verdict,
                      f"{draft.confidence:.2f}", escape(best))
    return table
