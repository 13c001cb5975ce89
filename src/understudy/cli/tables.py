"""Tables that fit the terminal without hiding what a user acts on.

A column holds either values (ids, numbers, metric figures, model ids, links) or labels (titles,
descriptions). Values are never cut: their columns are as wide as their widest cell. Labels take
what width is left and wrap; when too little is left for them, each label moves to a numbered
footnote under the table; when even the values do not fit side by side, each row is printed
as a block of `column: value` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

LABEL_MIN = 16  # a label column narrower than this reads worse than a footnote


@dataclass(frozen=True)
class Column:
    """One column: its header, whether it holds values or labels, and its alignment."""

    header: str
    label: bool = False
    justify: str = "left"


def value(header: str, justify: str = "left") -> Column:
    return Column(header, False, justify)


def label(header: str) -> Column:
    return Column(header, True)


def number(header: str) -> Column:
    return Column(header, False, "right")


def _width(cell: str) -> int:
    return max((Text.from_markup(line).cell_len for line in cell.splitlines()), default=0)


def print_table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                title: str | None = None) -> None:
    """Print `rows` (markup strings, one per column) to fit `console.width`."""
    rows = [list(row) for row in rows]
    widths = [max([len(c.header), *(_width(row[i]) for row in rows)]) for i, c in
              enumerate(columns)]
    gap = 2  # one space of padding either side of the column rule, none at the edges
    values = sum(w for w, c in zip(widths, columns, strict=True) if not c.label)
    labels = [i for i, c in enumerate(columns) if c.label]
    spare = console.width - values - gap * (len(columns) - 1) - (len(columns) - 1)
    if labels and spare < LABEL_MIN * len(labels):
        _print_footnoted(console, columns, rows, widths, title)
    elif not labels and spare < 0:
        _print_blocks(console, columns, rows, title)
    else:
        console.print(_table(columns, rows, widths, title))


def _table(columns: Sequence[Column], rows: list[list[str]], widths: list[int],
           title: str | None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, expand=False)
    for column, width in zip(columns, widths, strict=True):
        if column.label:
            table.add_column(column.header, justify=column.justify, overflow="fold", ratio=1)
        else:
            table.add_column(column.header, justify=column.justify, no_wrap=True,
                             min_width=width)
    for row in rows:
        table.add_row(*row)
    return table


def _print_footnoted(console: Console, columns: Sequence[Column], rows: list[list[str]],
                     widths: list[int], title: str | None) -> None:
    """The values in the table, each label under it as `[n] header: text`."""
    kept = [c for c in columns if not c.label]
    notes: list[str] = []
    cells = []
    for row in rows:
        texts = [cell for cell, c in zip(row, columns, strict=True) if c.label and cell]
        mark = ""
        if texts:
            notes.append(f"[{len(notes) + 1}] " + "; ".join(texts))
            mark = f" [{len(notes)}]"
        values = [cell for cell, c in zip(row, columns, strict=True) if not c.label]
        values[0] += escape(mark)
        cells.append(values)
    kept_widths = [max([len(c.header), *(_width(r[i]) for r in cells)]) for i, c in
                   enumerate(kept)]
    if sum(kept_widths) + 3 * (len(kept) - 1) > console.width:
        _print_blocks(console, columns, rows, title)
        return
    console.print(_table(kept, cells, kept_widths, title))
    if notes:
        headers = ", ".join(c.header for c in columns if c.label)
        console.print(f"[dim]Notes ({escape(headers)}):[/]")
    for note in notes:
        console.print(note, soft_wrap=False, overflow="fold")


def _print_blocks(console: Console, columns: Sequence[Column], rows: list[list[str]],
                  title: str | None) -> None:
    """Each row as `header: cell` lines: nothing has to share a line with anything else."""
    if title:
        console.print(f"[i]{title}[/]")
    pad = max(len(c.header) for c in columns)
    for number_, row in enumerate(rows):
        if number_:
            console.print()
        for column, cell in zip(columns, row, strict=True):
            if cell:
                console.print(f"{escape(column.header):>{pad}}: {cell}", soft_wrap=True)
