"""Sections of HTML and plain-text pages, and the Sphinx/MyST vocabulary the page parsers share."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

# (heading trail, anchor, blocks of text in order)
Section = tuple[list[str], str, list[str]]

_BLANK = re.compile(r"\n\s*\n")

# Directives whose output is navigation, metadata or a file we do not have: they vanish.
VANISHING = frozenset({
    "toctree", "contents", "include", "literalinclude", "raw", "meta", "index", "highlight",
    "tabularcolumns", "currentmodule", "module", "py:module", "py:currentmodule", "program",
    "sectionauthor", "codeauthor", "moduleauthor", "autosummary", "image", "sectnum",
    "default-role", "role", "title", "header", "footer", "target-notes", "date", "class",
    "towncrier-draft-entries", "graphviz", "plot", "mermaid", "bibliography",
})
# Directives whose body is code: kept as a fenced block.
CODE = frozenset({
    "code", "code-block", "sourcecode", "code-cell", "doctest", "testcode", "testoutput",
    "prompt", "console", "parsed-literal", "jupyter-execute", "ipython",
})
# Directives that print a label before their body, as Sphinx renders them.
LABELS = {
    "note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
    "attention": "Attention", "caution": "Caution", "danger": "Danger", "error": "Error",
    "hint": "Hint", "seealso": "See also", "todo": "To do",
    "versionadded": "New in version {}", "versionchanged": "Changed in version {}",
    "deprecated": "Deprecated since version {}", "versionremoved": "Removed in version {}",
}
# Roles whose text reads as code (a file, a command, an option, a Python object).
CODE_ROLES = frozenset({
    "file", "command", "program", "option", "envvar", "samp", "kbd", "code", "mod", "func",
    "class", "meth", "attr", "obj", "data", "exc", "const", "makevar", "regexp", "mailheader",
    "literal",
})
# Page metadata Sphinx reads from a leading field list; it is not content.
METADATA_FIELDS = frozenset({"orphan", "nosearch", "tocdepth", "nocomments", "substitutions",
                             "html_theme.sidebar_secondary.remove", "html_meta"})

_EXPLICIT_TITLE = re.compile(r"^(.*?)\s*<([^<>]*)>$", re.DOTALL)


def role_text(name: str, content: str) -> str:
    """What a Sphinx or MyST role shows: its title, or its target read as a reader sees it.

    `{ref}`Hash-checking mode <hash-mode>`` shows "Hash-checking mode", `{pypi}`truststore``
    shows "truststore", `{pep}`517`` shows "PEP 517"; code-like roles keep backticks.
    """
    name = name.lower().rsplit(":", 1)[-1] if name.count(":") else name.lower()
    content = " ".join(content.split())
    explicit = _EXPLICIT_TITLE.match(content)
    if explicit and explicit[1]:
        text = explicit[1]
    else:
        text = explicit[2] if explicit else content
        text = text.lstrip("!")
        if text.startswith("~"):  # Sphinx shows only the last part of ~a.b.c
            text = text[1:].rsplit(".", 1)[-1]
    if name == "pep":
        return f"PEP {text}"
    if name == "rfc":
        return f"RFC {text}"
    if name == "doc" and not (explicit and explicit[1]):
        # Sphinx shows the page's title, which only the page knows; its name comes close.
        text = text.rstrip("/").rsplit("/", 1)[-1]
    if name in ("issue", "pr") and text.isdigit():
        return f"#{text}"
    if name in CODE_ROLES and text:
        fence = "``" if "`" in text else "`"
        return f"{fence}{text}{fence}"
    return text


def label(name: str, argument: str) -> str:
    """The label a directive prints before its body ("Note", "New in version 22.2"), or ''."""
    found = LABELS.get(name.lower())
    if found:
        return found.format(argument.strip()).strip() if "{}" in found else found
    if name.lower() == "admonition":
        return argument.strip()
    return ""


def label_argument(name: str, argument: str) -> tuple[str, str]:
    """A labelling directive's argument split into what the label names (a version) and
    the text that follows it (`.. versionadded:: 20.1 The purge command`)."""
    found = LABELS.get(name.lower())
    if found is None:
        return argument, ""
    if "{}" not in found:
        return "", argument.strip()
    parts = argument.split(None, 1)
    return (parts[0] if parts else ""), (parts[1].strip() if len(parts) > 1 else "")


def labelled(text: str, blocks: list[str]) -> list[str]:
    """Blocks with a bold label in front of the first paragraph (or on its own line)."""
    if not text:
        return blocks
    head = f"**{text}:**" if not text.endswith((".", ":", "?", "!")) else f"**{text}**"
    if blocks and not blocks[0].startswith(("```", "- ", "|", "> ", "**")):
        return [f"{head} {blocks[0]}", *blocks[1:]]
    return [head, *blocks]


def text_sections(text: str) -> list[Section]:
    """A plain-text page: one section of paragraphs, no headings."""
    blocks = [b.strip("\n") for b in _BLANK.split(text) if b.strip()]
    return [([], "", blocks)] if blocks else []


def rst_id(title: str) -> str:
    """The id docutils (and so Sphinx) gives a section: lowercase words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


_SKIPPED = {"script", "style", "nav", "header", "footer", "aside", "noscript", "template",
            "svg", "form", "button", "head", "title"}
_BLOCKS = {"p", "li", "pre", "td", "th", "dd", "dt", "blockquote", "tr", "figcaption",
           "caption", "div", "section", "article", "main", "ul", "ol", "dl", "table", "br",
           "hr", "details", "summary", "body"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NO_ATTRS: dict[str, str] = {}


class _PageEvents:
    """An lxml parser target: headings and text blocks, leaving out navigation and scripts.

    libxml2 parses the page in one linear pass and closes what the page left open, so a
    hostile page (thousands of unclosed tags) costs no more than its length.
    """

    def __init__(self) -> None:
        # ("h", level, id, title, in_main) and ("b", text, in_main), in page order
        self.events: list[tuple[Any, ...]] = []
        self.main_seen = False
        self.main_depth = 0
        self.stack: list[tuple[str, bool]] = []  # open tags: (name, opened <main>)
        self.skip_depth = 0  # open elements whose text is not content
        self.heading: list[str] | None = None
        self.heading_level = 0
        self.heading_id = ""
        self.pending_id = ""  # id of a <section> just opened: Sphinx puts the anchor there
        self.text: list[str] = []
        self.pre = 0

    def start(self, tag: str, attrib: Any) -> None:
        # lxml's attribute proxy is slow to query: read it only when the tag has attributes.
        attrs = dict(attrib) if len(attrib) else _NO_ATTRS
        is_main = tag == "main" or attrs.get("role") == "main"
        self.stack.append((tag, is_main))
        if is_main:
            self.main_seen = True
            self.main_depth += 1
        if self.skip_depth or tag in _SKIPPED or attrs.get("role") == "navigation":
            self.skip_depth += 1
            return
        if attrs.get("id"):
            self.pending_id = attrs["id"]
        if tag in _HEADINGS:
            self._flush()
            self.heading, self.heading_level = [], int(tag[1])
            self.heading_id = attrs.get("id") or self.pending_id
        elif tag in _BLOCKS:
            self._flush()
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if not self.stack:
            return
        tag, was_main = self.stack.pop()
        if self.skip_depth:
            self.skip_depth -= 1
        elif tag in _HEADINGS and self.heading is not None:
            self._heading_done()
        elif tag in _BLOCKS:
            self._flush()
        if tag == "pre" and self.pre:
            self.pre -= 1
        if was_main:
            self._flush()
            self.main_depth -= 1

    def data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.heading is not None:
            self.heading.append(data)
            return
        if data.strip():
            self.pending_id = ""
        self.text.append(data)

    def comment(self, text: str) -> None:
        """Comments are not content."""

    def close(self) -> list[tuple[Any, ...]]:
        self._flush()
        return self.events

    def _heading_done(self) -> None:
        title = " ".join("".join(self.heading or []).split()).rstrip("¶#🔗 ").strip()
        self.heading = None
        self.pending_id = ""
        if title:
            self.events.append(("h", self.heading_level, self.heading_id, title,
                                self.main_depth > 0))

    def _flush(self) -> None:
        if not self.text:
            return
        raw = "".join(self.text)
        self.text = []
        block = raw.strip("\n") if self.pre else " ".join(raw.split())
        if block.strip():
            self.events.append(("b", block, self.main_depth > 0))


def html_sections(text: str) -> list[Section]:
    """Sections of an HTML page by h1-h6; only what is inside <main> when the page marks one."""
    if not text.strip():
        return []
    # libxml2 takes UTF-8: a lone surrogate (never in a decoded file) would stop it.
    text = text.encode("utf-8", "replace").decode("utf-8")
    target = _PageEvents()
    parser = etree.HTMLParser(target=target, no_network=True, recover=True)
    try:
        parser.feed(text)
        events = parser.close()
    except etree.LxmlError:  # libxml2 gave up on the page: what it read so far is kept
        events = target.events
    if target.main_seen:
        events = [e for e in events if e[-1]]
    sections: list[Section] = [([], "", [])]
    stack: list[tuple[int, str]] = []
    used: dict[str, int] = {}
    for event in events:
        if event[0] == "b":
            sections[-1][2].append(event[1])
            continue
        _, level, anchor, title, _ = event
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        anchor = anchor or rst_id(title)
        seen = used.get(anchor, 0)
        used[anchor] = seen + 1
        sections.append(([t for _, t in stack], f"{anchor}-{seen}" if seen else anchor, []))
    return [s for s in sections if s[2]]
