"""Sections of reStructuredText, HTML and plain-text pages: heading trail, anchor, blocks."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# (heading trail, anchor, blocks of text in order)
Section = tuple[list[str], str, list[str]]

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")  # a line of one punctuation character
_BLANK = re.compile(r"\n\s*\n")


def rst_id(title: str) -> str:
    """The id docutils (and so Sphinx) gives a section: lowercase words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def rst_sections(text: str) -> list[Section]:
    """Sections of a reStructuredText page, found by their underlined (or overlined) titles.

    Levels follow the order in which adornment styles first appear, as in docutils; indented
    text (literal blocks, directive bodies) is never taken for a title.
    """
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    sections: list[Section] = [([], "", [])]
    body: list[str] = []
    used: dict[str, int] = {}
    i = 0

    def flush() -> None:
        chunk = "\n".join(body).strip("\n")
        sections[-1][2].extend(b.strip("\n") for b in _BLANK.split(chunk) if b.strip())
        body.clear()

    while i < len(lines):
        over = _ADORNMENT.match(lines[i])
        if (over and i + 2 < len(lines) and lines[i + 1].strip()
                and lines[i + 2].strip() == lines[i].strip()):
            title, style, step = lines[i + 1].strip(), (over[1], True), 3
        elif (i + 1 < len(lines) and lines[i].strip() and not lines[i][0].isspace()
              and (i == 0 or not lines[i - 1].strip())
              and (under := _ADORNMENT.match(lines[i + 1]))
              and len(lines[i + 1].rstrip()) >= min(len(lines[i].rstrip()), 4)):
            title, style, step = lines[i].strip(), (under[1], False), 2
        else:
            body.append(lines[i])
            i += 1
            continue
        flush()
        if style not in styles:
            styles.append(style)
        depth = styles.index(style)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, title))
        anchor = rst_id(title) or "section"
        seen = used.get(anchor, 0)
        used[anchor] = seen + 1
        sections.append(([t for _, t in stack], f"{anchor}-{seen}" if seen else anchor, []))
        i += step
    flush()
    return [s for s in sections if s[2]]


def text_sections(text: str) -> list[Section]:
    """A plain-text page: one section of paragraphs, no headings."""
    blocks = [b.strip("\n") for b in _BLANK.split(text) if b.strip()]
    return [([], "", blocks)] if blocks else []


_SKIPPED = {"script", "style", "nav", "header", "footer", "aside", "noscript", "template",
            "svg", "form", "button"}
_BLOCKS = {"p", "li", "pre", "td", "th", "dd", "dt", "blockquote", "tr", "figcaption",
           "caption", "div", "section", "article", "main", "ul", "ol", "dl", "table", "br",
           "hr", "details", "summary"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "area", "col", "embed"}


class _PageParser(HTMLParser):
    """Collects headings and text blocks, leaving out navigation, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = [([], "", [])]
        self.stack: list[tuple[int, str]] = []
        self.skip_tag = ""  # inside an element whose text is not content (counted by name,
        self.skip_depth = 0  # so unclosed <li> or <p> inside it do not matter)
        self.heading: list[str] | None = None
        self.heading_level = 0
        self.heading_id = ""
        self.pending_id = ""  # id of a <section> just opened: Sphinx puts the anchor there
        self.text: list[str] = []
        self.pre = 0
        self.used: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.skip_tag:
            self.skip_depth += tag == self.skip_tag
            return
        if tag in _SKIPPED or found.get("role") == "navigation":
            if tag not in _VOID:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if found.get("id"):
            self.pending_id = found["id"] or ""
        if tag in _HEADINGS:
            self._flush()
            self.heading, self.heading_level = [], int(tag[1])
            self.heading_id = found.get("id") or self.pending_id
        elif tag in _BLOCKS:
            self._flush()
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if not self.skip_depth:
                    self.skip_tag = ""
            return
        if tag in _HEADINGS and self.heading is not None:
            self._heading_done()
        elif tag in _BLOCKS:
            self._flush()
        if tag == "pre" and self.pre:
            self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_tag:
            return
        if self.heading is not None:
            self.heading.append(data)
            return
        if data.strip():
            self.pending_id = ""
        self.text.append(data)

    def _heading_done(self) -> None:
        title = " ".join("".join(self.heading or []).split()).rstrip("¶#🔗 ").strip()
        self.heading = None
        self.pending_id = ""
        if not title:
            return
        while self.stack and self.stack[-1][0] >= self.heading_level:
            self.stack.pop()
        self.stack.append((self.heading_level, title))
        anchor = self.heading_id or rst_id(title)
        seen = self.used.get(anchor, 0)
        self.used[anchor] = seen + 1
        self.sections.append(([t for _, t in self.stack], f"{anchor}-{seen}" if seen else anchor,
                              []))

    def _flush(self) -> None:
        raw = "".join(self.text)
        self.text = []
        block = raw.strip("\n") if self.pre else " ".join(raw.split())
        if block.strip():
            self.sections[-1][2].append(block)


_MAIN = re.compile(r"<main[\s>]|<[a-z]+[^>]*\brole=[\"']?main\b", re.IGNORECASE)


def html_sections(text: str) -> list[Section]:
    """Sections of an HTML page by h1-h6; only from <main> on when the page marks one."""
    found = _MAIN.search(text)
    if found:
        end = text.lower().rfind("</main>")
        text = text[found.start(): end if end > found.start() else len(text)]
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    parser._flush()
    return [s for s in parser.sections if s[2]]
