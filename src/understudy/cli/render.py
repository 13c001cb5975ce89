"""Shared terminal output: drafts, JSON, and bringing the index up to date."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

from ..records import Draft
from ..text.language import language_name
from ..workspace import Workspace
from .progress import progress

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else mixed in."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


_ISSUE_URL = re.compile(r"^https?://[^/]+/(?P<path>.+?)(?:/-)?/(?:issues|pull)/(?P<number>\d+)/?$")


def ticket_ref(url: str) -> str:
    """A tracker issue's short name (group/project#12), else the link itself ('-' if none)."""
    found = _ISSUE_URL.match(url or "")
    if found:
        return f"{found['path']}#{found['number']}"
    return url or "-"


def render_draft(out: Console, draft: Draft) -> None:
    """One draft: its ticket, text, confidence and sources."""
    state = "[yellow]abstained[/]" if draft.abstained else "[green]answer[/]"
    title = f"Draft {draft.id} · {draft.thread_title or 'ticket'} · {state}"
    subtitle = f"{draft.backend} · confidence {draft.confidence:.2f} · {draft.status}"
    if draft.language:
        subtitle = f"ticket in {language_name(draft.language)} · {subtitle}"
    out.print(Panel(Markdown(draft.final_text or draft.text), title=title, subtitle=subtitle,
                    title_align="left", subtitle_align="right"))
    if draft.thread_url:
        out.print(f"  ticket: {draft.thread_url}")
    for source in draft.sources:
        out.print(f"  [dim]{source.kind:<7}[/] {source.score:5.2f}  {source.title}  "
                  f"[blue]{source.url}[/]")


def build_index(workspace: Workspace, rebuild: bool = False):
    """Bring the index up to date, with a bar on stderr while items are embedded."""
    with progress() as bars:
        return workspace.index.build(rebuild=rebuild, progress=bars.counter("Embedding knowledge"))
