"""Progress of long commands on stderr: one look for every command, nothing off a terminal.

The library never draws anything: its long functions take a callback. `progress()` hands the
command a `Bars` object that is such a callback (`bars(what, done, total)`), makes one bar per
`what`, and clears them when the command is done, so stdout and `--json` stay clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Bars:
    """One bar per stage of a command; a call moves the stage's bar."""

    def __init__(self, progress: Progress, console: Console):
        self.progress, self.console = progress, console
        self._tasks: dict[str, Any] = {}
        self._opening: Any = None  # the first line's task, until a real stage reports

    @property
    def shown(self) -> bool:
        return not self.progress.disable

    def __call__(self, what: str, done: int, total: int | None = None, note: str = "") -> None:
        """Move the bar of `what` to `done` of `total` (None while the total is not known)."""
        task = self._tasks.get(what)
        if task is None and self._opening is not None:
            self.progress.remove_task(self._opening)
            self._opening = None
        if task is None:
            task = self._tasks[what] = self.progress.add_task(what, total=total, note=note)
        self.progress.update(task, completed=done, total=total, note=note)

    def start(self, what: str) -> None:
        """Show `what` at once (a spinner and the time taken) until the first stage reports."""
        self._opening = self.progress.add_task(what, total=None, note="")

    def stage(self, text: str) -> None:
        """Show `text` as what runs now, on one spinner line that each new stage replaces."""
        if self._opening is None:
            self.start(text)
        else:
            self.progress.update(self._opening, description=text)

    def counter(self, what: str) -> Callable[[int, int], None]:
        """A `(done, total)` callback for the bar of `what`."""
        return lambda done, total: self(what, done, total or None)

    def ticker(self, what: str) -> Callable[..., None]:
        """A callback counting calls (one per record) on the bar of `what`, total unknown."""
        count = 0

        def tick(*_: Any) -> None:
            nonlocal count
            count += 1
            self(what, count, None)

        return tick

    def say(self, text: str) -> None:
        """A line above the bars (on stderr), kept when they are cleared."""
        self.console.print(text, highlight=False)


@contextmanager
def progress(first: str | None = None, quiet: bool = False,
             console: Console | None = None) -> Iterator[Bars]:
    """Bars on stderr while the block runs; `first` is shown at once, until a stage reports;
    `quiet` or a stderr that is not a terminal draws nothing."""
    console = console or Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn())
    shown = console.is_terminal and not quiet
    with Progress(*columns, console=console, transient=True, disable=not shown) as bar:
        bars = Bars(bar, console)
        if first:
            bars.start(first)
        yield bars
