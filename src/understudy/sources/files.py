"""One ticket from a markdown or text file, or from standard input."""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError
from ..records import Message, Thread


def ticket_from_text(text: str, origin: str, created_at: str | None = None) -> Thread:
    """A ticket whose title is the first line (or first `# heading`) and body the rest."""
    lines = text.strip().splitlines()
    if not lines or not text.strip():
        raise InputError(f"{origin} is empty: write the ticket's title on the first line")
    heading = next((i for i, line in enumerate(lines) if re.match(r"^#\s+\S", line)), None)
    if heading is not None and all(not line.strip() for line in lines[:heading]):
        title = lines[heading].lstrip("#").strip()
        body = "\n".join(lines[heading + 1 :]).strip()
    else:
        title = lines[0].strip()
        body = "\n".join(lines[1:]).strip()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    stamp = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Thread(
        source="file",
        external_id=f"{origin}#{digest}",
        url="" if origin == "stdin" else Path(origin).resolve().as_uri(),
        title=title,
        state="opened",
        created_at=stamp,
        updated_at=stamp,
        messages=[Message("0", "", body or title, stamp, kind="question")],
    )


def ticket_from_file(path: str) -> Thread:
    """Read a ticket from PATH, or from standard input when PATH is '-'."""
    if path == "-":
        try:
            return ticket_from_text(sys.stdin.read(), "stdin")
        except UnicodeDecodeError:
            raise InputError("Standard input is not UTF-8 text: pipe a markdown or text "
                             "ticket") from None
    if "\0" in path:
        raise InputError(f"{path!r} has a NUL character: give the path of a text file")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder: give a markdown or text file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: give a markdown or text file") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}") from None
    modified = datetime.fromtimestamp(file.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ticket_from_text(text, str(file.resolve()), created_at=modified)
