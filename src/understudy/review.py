"""The interactive review loop: draft open tickets one by one, edit, save, send or skip them."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .errors import InputError, NotFoundError, SendError, UnderstudyError, UsageError
from .plugins import registry
from .records import Draft, Thread
from .send import send_draft
from .sources import resolve_ticket
from .workspace import Workspace

if TYPE_CHECKING:
    from .answer import Answerer

STATE_KEY = "review"
QUESTION_CHARS = 2000  # longer questions are cut when shown; the full text stays in the store

HELP = {
    "start": "queue open tickets waiting for review (a new or saved draft, or none yet), "
             "oldest first; draft the first",
    "next": "go to the next ticket in the queue (drafting it if needed)",
    "show": "show the current ticket and its draft",
    "add URL|FILE": "add a ticket from an issue URL or a file and make it current (drafting "
                    "it unless it has a draft)",
    "answer": "draft the current ticket again (alias: regenerate); older drafts are kept",
    "sources": "list what the current draft drew on",
    "edit": "edit the draft in $EDITOR; the edited text is saved",
    "save [FILE]": "save the draft; with FILE also write its text there",
    "send [FILE] [--internal]": "send the draft after confirming; FILE replaces its text",
    "skip": "mark the current ticket skipped and go to the next",
    "history": "the last review actions",
    "help": "this list",
    "exit": "leave (alias: quit; Ctrl-D too); Ctrl-C cancels the current command",
}
ALIASES = {"regenerate": "answer", "quit": "exit", "?": "help", "n": "next", "s": "show"}


def command_words() -> list[str]:
    """Every command name and alias, for completion."""
    return sorted({usage.split()[0] for usage in HELP} | set(ALIASES) - {"?"})


class ExitLoop(Exception):
    """Raised by `exit` to leave the loop."""


class ReviewSession:
    """One reviewer's loop over the tickets of a workspace; its place is kept in the store."""

    def __init__(
        self,
        workspace: Workspace,
        console: Console | None = None,
        session: PromptSession | None = None,
        editor: str | None = None,
        backend: str | None = None,
    ):
        self.workspace = workspace
        self.store = workspace.store
        self.console = console or Console()
        self.session = session or PromptSession(completer=WordCompleter(command_words()))
        self.editor = editor
        self.backend = backend
        self._answerer: Answerer | None = None
        self.commands: dict[str, Callable[[list[str]], None]] = {
            "start": lambda args: self.start(),
            "next": lambda args: self.next(),
            "show": lambda args: self.show(),
            "add": self._add_command,
            "answer": lambda args: self.answer(),
            "sources": lambda args: self.sources(),
            "edit": lambda args: self.edit(),
            "save": lambda args: self.save(self._one_optional(args, "save [FILE]")),
            "send": self._send_command,
            "skip": lambda args: self.skip(),
            "history": lambda args: self.history(),
            "help": lambda args: self.help(),
            "exit": lambda args: self.exit(),
        }

    # -- state kept in the store -----------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        value = self.store.get_state(STATE_KEY) or {}
        return {"queue": value.get("queue", []), "thread": value.get("thread"),
                "draft": value.get("draft")}

    def _save_state(self, **changes: Any) -> None:
        self.store.set_state(STATE_KEY, {**self.state, **changes})

    @property
    def answerer(self) -> Answerer:
        """The Answerer, created once so the model and index load once per loop."""
        if self._answerer is None:
            self._answerer = self.workspace.answerer(self.backend)
        return self._answerer

    def current(self) -> tuple[Thread, Draft | None]:
        """The current ticket and its draft; UsageError when there is none."""
        state = self.state
        if state["thread"] is None:
            raise UsageError("No current ticket: type start, or add URL|FILE")
        try:
            thread = self.store.get_thread(state["thread"])
        except NotFoundError:
            self._save_state(thread=None, draft=None)
            raise UsageError("The current ticket is gone from the store: type start") from None
        draft = None
        if state["draft"] is not None:
            try:
                draft = self.store.get_draft(state["draft"])
            except NotFoundError:
                draft = None
        return thread, draft

    def current_draft(self) -> tuple[Thread, Draft]:
        thread, draft = self.current()
        if draft is None:
            raise UsageError("The current ticket has no draft: type answer")
        return thread, draft

    # -- commands --------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the tickets waiting for review, oldest first, and open the first."""
        queue = [t.id for t in self.store.threads_to_review()]
        if not queue:
            self._save_state(queue=[])
            self.console.print(
                "No open tickets need an answer: sync a source, or add URL|FILE", markup=False
            )
            return
        self.console.print(f"{len(queue)} tickets to review, oldest first.")
        self._save_state(queue=queue[1:])
        self._open(queue[0])

    def next(self) -> None:
        """Move to the next ticket in the queue."""
        queue = list(self.state["queue"])
        while queue:
            thread_id = queue.pop(0)
            self._save_state(queue=queue)
            try:
                self.store.get_thread(thread_id)
            except NotFoundError:
                continue
            self._open(thread_id)
            return
        self.console.print(
            "The queue is empty: type start to look for new tickets, or add URL|FILE",
            markup=False,
        )

    def show(self) -> None:
        """Print the current ticket and its draft."""
        thread, draft = self.current()
        left = len(self.state["queue"])
        head = Text(thread.title, style="bold")
        head.append(f"  (ticket {thread.id}, {thread.source} {thread.external_id})", style="dim")
        self.console.print(head)
        if thread.url:
            self.console.print(Text(thread.url, style="cyan"))
        question = thread.messages[0].text or thread.messages[0].body if thread.messages else ""
        if len(question) > QUESTION_CHARS:
            question = question[:QUESTION_CHARS].rstrip() + " …"
        self.console.print(Panel(Text(question or "(no text)"), title="Question", expand=True))
        if draft is None:
            self.console.print("No draft yet: type answer", markup=False)
        else:
            self._show_draft(draft)
        if reason := self._unsendable(thread):
            self.console.print(Text(reason, style="yellow"))
        self.console.print(Text(f"{left} more in the queue.", style="dim"))

    def add(self, ref: str) -> Draft:
        """Add a ticket from an issue URL or a file and make it current.

        A ticket that already has a draft shows that draft rather than getting a second one.
        """
        thread = resolve_ticket(self.workspace, ref)
        outcome = self.store.upsert_thread(thread)
        state = self.state
        queue = list(state["queue"])
        previous = state["thread"]
        if previous is not None and previous != thread.id and previous not in queue:
            queue.insert(0, previous)  # come back to it with `next`
        self._save_state(queue=[t for t in queue if t != thread.id])
        self.console.print(Text(f"Added ticket {thread.id} ({outcome}): {thread.title}"))
        if reason := self._unsendable(thread):
            self.console.print(Text(reason, style="yellow"))
        existing = latest_draft(self.store.drafts(thread_id=thread.id))
        if existing is not None:
            self._save_state(thread=thread.id, draft=existing.id)
            note = f"Ticket {thread.id} already has draft {existing.id} ({existing.status})"
            if outcome == "updated":
                note += "; the ticket changed since: type answer to draft it again"
            self.console.print(Text(note + "."))
            self.show()
            return existing
        self._save_state(thread=thread.id, draft=None)
        draft = self._draft(thread)
        self.show()
        return draft

    def answer(self) -> Draft:
        """Draft the current ticket again; the older drafts stay in the store."""
        thread, _ = self.current()
        draft = self._draft(thread)
        self._show_draft(draft)
        return draft

    def sources(self) -> None:
        """List what the current draft drew on."""
        _, draft = self.current_draft()
        if not draft.sources:
            self.console.print("The draft has no sources.", markup=False)
            return
        from rich.markup import escape

        from .cli.tables import label, number, print_table, value

        # Links are what a reviewer opens: they are never cut, titles wrap or become notes.
        rows = [[ref.kind, escape(ref.title), escape(ref.url or ""), f"{ref.score:.3f}"]
                for ref in draft.sources]
        print_table(self.console, [value("kind"), label("title"), value("url"),
                                   number("score")], rows)

    def edit(self) -> Draft:
        """Open the draft in the editor; a changed, non-empty text becomes its final text."""
        thread, draft = self.current_draft()
        old = draft.final_text if draft.final_text is not None else draft.text
        edited = self._run_editor(old, thread)
        if not edited.strip():
            self.console.print("The edited text is empty: the draft keeps its text.", markup=False)
            return draft
        if edited.rstrip() == old.rstrip():
            self.console.print("Unchanged: the draft keeps its text.", markup=False)
            return draft
        draft.final_text = edited.rstrip() + "\n"
        if draft.status != "sent":
            draft.status = "saved"
        self.store.save_draft(draft)
        self.store.log_review("edited", thread.id, draft.id)
        self.console.print(f"Saved the edited text of draft {draft.id}.", markup=False)
        return draft

    def save(self, path: str | None = None) -> Draft:
        """Mark the draft saved; with `path` also write its text there."""
        thread, draft = self.current_draft()
        if draft.status != "sent":
            draft.status = "saved"
        self.store.save_draft(draft)
        self.store.log_review("saved", thread.id, draft.id)
        message = f"Saved draft {draft.id}"
        if path:
            text = draft.final_text if draft.final_text is not None else draft.text
            target = Path(path).expanduser()
            try:
                target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            except OSError as exc:
                why = exc.strerror or exc
                raise InputError(f"Cannot write {path} ({why}): give another path") from None
            message += f" and wrote it to {target}"
        self.console.print(message + ".", markup=False)
        if draft.abstained and draft.final_text is None:
            self.console.print(
                Text("The draft abstained: edit it before sending.", style="yellow")
            )
        return draft

    def send(self, path: str | None = None, internal: bool = False) -> Draft | None:
        """Ask to confirm, then post the draft (or the text of `path`); None when declined."""
        thread, draft = self.current_draft()
        if reason := self._unsendable(thread):
            raise SendError(reason)
        if draft.status == "sent":
            self.console.print(Text(f"Draft {draft.id} was already sent: {draft.sent_to}"))
            return draft
        text = None
        if path:
            try:
                text = Path(path).expanduser().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                why = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise InputError(f"Cannot read {path} ({why}): give a text file") from None
            if not text.strip():
                raise InputError(f"{path} is empty: write the answer in it first")
        elif draft.abstained and draft.final_text is None:
            raise SendError(
                f"Draft {draft.id} abstained (no confident answer): type edit to write the "
                "answer, or send FILE"
            )
        where = "an internal note" if internal else "a reply"
        target = thread.url or f"ticket {thread.id}"
        if not self._confirm(f"Send draft {draft.id} as {where} to {target}? [y/N] "):
            self.console.print("Not sent.", markup=False)
            return None
        sent = send_draft(self.workspace, draft.id, text, internal=internal)
        self.console.print(Text(f"Sent: {sent.sent_to}", style="green"))
        return sent

    def skip(self) -> None:
        """Mark the current ticket skipped and move on."""
        thread, draft = self.current()
        self.store.log_review("skipped", thread.id, draft.id if draft else None)
        self.console.print(Text(f"Skipped ticket {thread.id}: {thread.title}", style="dim"))
        self._save_state(thread=None, draft=None)
        self.next()

    def history(self, limit: int = 20) -> None:
        """Print the last review actions, newest first."""
        rows = self.store.review_log(limit)
        if not rows:
            self.console.print("No review actions yet.", markup=False)
            return
        table = Table("when", "action", "ticket", "draft", "title")
        for row in rows:
            table.add_row(
                row["at"][:19].replace("T", " "), row["action"], str(row["thread_id"] or ""),
                str(row["draft_id"] or ""), Text(row.get("title") or ""),
            )
        self.console.print(table)

    def help(self) -> None:
        """Print every command with one line each."""
        table = Table.grid(padding=(0, 2))
        for usage, line in HELP.items():
            table.add_row(Text(usage, style="bold"), Text(line))
        self.console.print(table)

    def exit(self) -> None:
        raise ExitLoop

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Read commands until exit or Ctrl-D; one failing command never ends the loop."""
        if self.state["thread"] is not None:
            self.console.print("Resuming where you were.", markup=False)
            self._guard(self.show)
        else:
            self.console.print("Type start to review open tickets, or help.", markup=False)
        while True:
            try:
                line = self.session.prompt(self._prompt_text())
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line
            except EOFError:
                break
            try:
                self._guard(lambda line=line: self.dispatch(line))
            except ExitLoop:
                break
        self.console.print("Bye: type understudy review to come back here.", markup=False)

    def dispatch(self, line: str) -> None:
        """Run one command line."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"Cannot read that line ({exc}): close the quote") from None
        if not words:
            return
        name, args = words[0].lower(), words[1:]
        name = ALIASES.get(name, name)
        command = self.commands.get(name)
        if command is None:
            self.console.print(
                Text(f"Unknown command '{words[0]}': type help to list the commands.",
                     style="yellow")
            )
            return
        command(args)

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except ExitLoop:
            raise
        except KeyboardInterrupt:
            self.console.print("Cancelled.", markup=False)
        except UnderstudyError as exc:
            self._error(str(exc))
        except Exception as exc:  # network and client failures: report them, keep the loop
            self._error(f"{type(exc).__name__}: {exc}")

    # -- helpers ---------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.console.print(Text(f"Error: {message}", style="red"))

    def _prompt_text(self) -> str:
        thread = self.state["thread"]
        return f"review [{thread}]> " if thread is not None else "review> "

    def _confirm(self, question: str) -> bool:
        return self.session.prompt(question).strip().lower() in {"y", "yes"}

    def _open(self, thread_id: int) -> None:
        """Make `thread_id` current with its latest draft, drafting one if it has none."""
        thread = self.store.get_thread(thread_id)
        draft = latest_draft(self.store.drafts(thread_id=thread_id))
        self._save_state(thread=thread_id, draft=draft.id if draft else None)
        if draft is None:
            self._draft(thread)
        self.show()

    def _draft(self, thread: Thread) -> Draft:
        self.console.print(Text(f"Drafting an answer for ticket {thread.id}…", style="dim"))
        draft = self.answerer.draft(thread)
        self._save_state(thread=thread.id, draft=draft.id)
        return draft

    def _show_draft(self, draft: Draft) -> None:
        edited = draft.final_text is not None
        text = draft.final_text if edited else draft.text
        title = f"Draft {draft.id}" + (" (edited)" if edited else "")
        style = "yellow" if draft.abstained else "green"
        self.console.print(Panel(Text(text), title=title, border_style=style, expand=True))
        facts = Text(
            f"confidence {draft.confidence:.2f} · backend {draft.backend} · status {draft.status}"
        )
        if draft.abstained:
            facts.append(" · abstained: edit it before sending", style="yellow")
        if draft.sent_to:
            facts.append(f" · sent to {draft.sent_to}")
        self.console.print(facts)

    def _unsendable(self, thread: Thread) -> str | None:
        """Why this ticket's drafts cannot be sent, or None when they can."""
        if thread.source in registry("destinations"):
            return None
        if thread.source == "file":
            return ("This ticket came from a file: it can be answered and saved (save FILE), "
                    "but not sent")
        return (f"Tickets from {thread.source} have nowhere to be sent: save the draft "
                "(save FILE) and post it by hand")

    def _run_editor(self, text: str, thread: Thread) -> str:
        command = self.editor or os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
        with tempfile.TemporaryDirectory(prefix="understudy-") as folder:
            path = Path(folder) / f"draft-{thread.id}.md"
            path.write_text(text, encoding="utf-8")
            try:
                done = subprocess.run([*shlex.split(command), str(path)], check=False)
            except FileNotFoundError:
                raise UsageError(
                    f"Editor '{command}' not found: set EDITOR to an editor command"
                ) from None
            if done.returncode != 0:
                raise UsageError(
                    f"The editor exited with status {done.returncode}: the draft keeps its text"
                )
            return path.read_text(encoding="utf-8")

    def _add_command(self, args: list[str]) -> None:
        if len(args) != 1:
            raise UsageError("Usage: add URL|FILE")
        self.add(args[0])

    def _send_command(self, args: list[str]) -> None:
        internal = "--internal" in args
        rest = [a for a in args if a != "--internal"]
        unknown = [a for a in rest if a.startswith("--")]
        if unknown:
            raise UsageError(f"Unknown option {unknown[0]}: usage: send [FILE] [--internal]")
        self.send(self._one_optional(rest, "send [FILE] [--internal]"), internal=internal)

    @staticmethod
    def _one_optional(args: list[str], usage: str) -> str | None:
        if len(args) > 1:
            raise UsageError(f"Too many arguments: usage: {usage}")
        return args[0] if args else None


def latest_draft(drafts: list[Draft]) -> Draft | None:
    """The draft to show for a ticket: the newest new or saved one, else the newest sent one."""
    for wanted in (("new", "saved"), ("sent",)):
        found = [d for d in drafts if d.status in wanted]
        if found:
            return found[-1]
    return None
