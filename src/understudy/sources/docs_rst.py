"""Sections of a reStructuredText page, parsed by docutils and read back as Markdown text.

Sphinx projects use directives and roles docutils does not know (`toctree`, `:ref:`,
`.. tab::`, their own `.. pip-command-usage::`). Sphinx registers its own before parsing;
so does this module: each unknown name found in a page is registered once with a handler
that keeps the text a reader would see (a role's title, a directive's body) and nothing of
the markup. No message ever reaches stderr, and a page docutils cannot parse is read as
plain text.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, Parser, directives, roles
from docutils.parsers.rst.states import Inliner
from docutils.utils import unescape

from .docs_formats import (
    CODE,
    LABELS,
    METADATA_FIELDS,
    VANISHING,
    Section,
    label,
    label_argument,
    labelled,
    role_text,
    rst_id,
    text_sections,
)

# Names are bounded so that a long run of `a:a:a...` costs linear time, not quadratic.
_DIRECTIVE = re.compile(r"^[ \t]*\.\.[ \t]+(\w[\w:+.-]{0,80})[ \t]*::", re.MULTILINE)
_ROLE = re.compile(r":(\w[\w:+.-]{0,80}):`")
_registered: set[str] = set()
_lock = threading.Lock()

_SETTINGS = {
    "report_level": 5, "halt_level": 5,
    "file_insertion_enabled": False, "raw_enabled": False, "syntax_highlight": "none",
    "doctitle_xform": False, "sectsubtitle_xform": False, "docinfo_xform": False,
    "input_encoding": "unicode", "output_encoding": "unicode", "embed_stylesheet": False,
    "character_level_inline_markup": False, "line_length_limit": 1 << 30,  # long lines: chunked
}


INLINE_CHUNK = 800  # characters of one paragraph parsed for inline markup at a time
# Unmatched markup (a lone backtick) a page may have before the rest of its inline text is read
# as plain text: each costs docutils about a millisecond, and real pages have next to none.
INLINE_PROBLEMS = 100
MAX_INDENT_LEVELS = 40  # distinct indentations: deeper nesting costs docutils quadratic time
_NESTED_LIST = re.compile(r"^[ \t]*(?:(?:[-*+\u2022]|\d{1,3}[.)]|#\.)[ \t]+){10}", re.MULTILINE)


def _bounded_inliner() -> Inliner:
    """docutils' inline parser, kept linear.

    It searches the rest of a paragraph for the end of every unmatched start-string (a lone
    backtick), so a paragraph is parsed in pieces cut at line ends; past INLINE_PROBLEMS the
    rest of a page's inline markup is read as plain text. (Inliner builds its patterns from
    its own class, so the method is wrapped rather than overridden.)
    """
    inliner = Inliner()
    parse = inliner.parse
    problems = 0

    def bounded(text: str, lineno: int, memo: Any, parent: Any) -> tuple[list[Any], list[Any]]:
        nonlocal problems
        found: list[Any] = []
        messages: list[Any] = []
        for piece in _pieces(text, INLINE_CHUNK) if len(text) > INLINE_CHUNK else [text]:
            if problems > INLINE_PROBLEMS:
                found.append(nodes.Text(piece))
                continue
            more, said = parse(piece, lineno, memo, parent)
            found.extend(more)
            messages.extend(said)
            problems += len(said)
        return found, messages

    inliner.parse = bounded  # type: ignore[method-assign]
    return inliner


def _pieces(text: str, size: int) -> list[str]:
    """`text` cut after line ends into pieces of about `size` characters (long lines at spaces)."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = start + size
        if end >= len(text):
            pieces.append(text[start:])
            break
        cut = text.rfind("\n", start, end)
        if cut <= start:
            cut = text.rfind(" ", start, end)
        cut = end if cut <= start else cut + 1
        pieces.append(text[start:cut])
        start = cut
    return pieces


class _AnyOption(dict):  # type: ignore[type-arg]
    """Every option name is accepted, its value kept as text: Sphinx adds many."""

    def __missing__(self, key: str) -> Any:
        return directives.unchanged

    def __bool__(self) -> bool:  # docutils parses options only when a spec is truthy
        return True


class _SphinxDirective(Directive):
    """A Sphinx or extension directive: its body as content, labelled as Sphinx shows it."""

    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = _AnyOption()

    def run(self) -> list[nodes.Node]:
        name = self.name.lower()
        argument = self.arguments[0] if self.arguments else ""
        if name in VANISHING:
            return []
        if name in CODE:
            code = "\n".join(self.content)
            block = nodes.literal_block(code, code)
            block["language"] = argument.split()[0] if argument.split() else ""
            return [block]
        box = nodes.container()
        if name in LABELS:
            argument, text = label_argument(name, argument)
            if text:
                inline, _ = self.state.inline_text(text, self.lineno)
                box += nodes.paragraph(text, "", *inline)
        if not self.content and not len(box):
            # A directive that generates its text at build time (`.. pip-command-usage::`).
            return []
        self.state.nested_parse(self.content, self.content_offset, box)
        box["label"] = label(name, argument) or ("" if ":" in name else argument.strip())
        box["signature"] = argument.strip() if ":" in name else ""  # `.. py:method:: f(x)`
        return [box]


def _sphinx_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
                 options: Any = None, content: Any = None) -> tuple[list[nodes.Node], list[Any]]:
    shown = role_text(name, unescape(text))
    if shown.startswith("`"):
        return [nodes.literal(shown, shown.strip("`"))], []
    return [nodes.Text(shown)], []


def _register(text: str) -> None:
    """Register every directive and role of `text` that docutils does not know."""
    wanted = {("d", m.lower()) for m in _DIRECTIVE.findall(text)}
    wanted |= {("r", m.lower()) for m in _ROLE.findall(text)}
    fresh = {w for w in wanted if f"{w[0]}:{w[1]}" not in _registered}
    if not fresh:
        return
    with _lock:
        for kind, name in fresh:
            if kind == "d" and name not in _RENDERED:
                directives.register_directive(name, _SphinxDirective)
            elif kind == "r" and not _known_role(name):
                roles.register_local_role(name, _sphinx_role)
            _registered.add(f"{kind}:{name}")


# docutils' own directives whose output reads well; every other name (Sphinx's, an
# extension's, or docutils' `include`, `raw`, `code`) is handled by _SphinxDirective.
_RENDERED = {"note", "warning", "tip", "important", "attention", "caution", "danger", "error",
             "hint", "admonition", "rubric", "topic", "sidebar", "container", "compound",
             "figure", "table", "csv-table", "list-table", "line-block", "epigraph",
             "highlights", "pull-quote", "math", "replace", "unicode"}


def _known_role(name: str) -> bool:
    from docutils.parsers.rst.languages import en

    return name in en.roles or name in roles._roles  # noqa: SLF001 - docutils keeps no API


def rst_sections(text: str) -> list[Section]:
    """Sections of a reStructuredText page: heading trail, anchor, Markdown blocks."""
    if _too_deep(text):
        return text_sections(text)
    _register(text)
    try:
        parser = Parser(inliner=_bounded_inliner())
        tree = publish_doctree(text, parser=parser,
                               settings_overrides={**_SETTINGS, "warning_stream": io.StringIO()})
        sections: list[Section] = [([], "", [])]
        _walk_sections(tree, [], sections, {})
    except Exception:  # noqa: BLE001 - a page docutils chokes on (deep nesting) is read as text
        return text_sections(text)
    return [s for s in sections if s[2]]


def _too_deep(text: str) -> bool:
    """Whether a page nests deeper than any real page does (docutils would take seconds)."""
    if _NESTED_LIST.search(text):
        return True
    levels = {len(line) - len(line.lstrip(" \t")) for line in text.splitlines() if line.strip()}
    return len(levels) > MAX_INDENT_LEVELS


def rst_blocks(text: str) -> list[str]:
    """The Markdown blocks of a reStructuredText fragment, headings turned into bold lines."""
    blocks: list[str] = []
    for trail, _, body in rst_sections(text):
        if trail:
            blocks.append(f"**{trail[-1]}**")
        blocks.extend(body)
    return blocks


def _walk_sections(node: nodes.Element, trail: list[str], out: list[Section],
                   used: dict[str, int]) -> None:
    for child in node.children:
        if isinstance(child, nodes.section):
            title = next((c for c in child.children if isinstance(c, nodes.title)), None)
            name = _plain(title) if title is not None else ""
            inner = [*trail, name] if name else trail
            anchor = child["ids"][0] if child.get("ids") else rst_id(name)
            seen = used.get(anchor, 0)
            used[anchor] = seen + 1
            out.append((inner, f"{anchor}-{seen}" if seen else anchor, []))
            _walk_sections(child, inner, out, used)  # reST puts no text after subsections
        elif not isinstance(child, nodes.title):
            out[-1][2].extend(_blocks(child))


def _blocks(node: nodes.Node) -> list[str]:
    """Markdown blocks of one body element (a paragraph, a list, an admonition...)."""
    if isinstance(node, (nodes.comment, nodes.target, nodes.substitution_definition,
                         nodes.system_message, nodes.raw, nodes.pending, nodes.image,
                         nodes.transition, nodes.problematic, nodes.decoration)):
        return []
    if isinstance(node, nodes.Text):
        text = node.astext().strip()
        return [text] if text else []
    if isinstance(node, nodes.topic) and "contents" in node.get("classes", []):
        return []
    if node.tagname == "meta":
        return []
    if isinstance(node, (nodes.paragraph, nodes.rubric, nodes.caption, nodes.attribution)):
        text = _inline(node).strip()
        if isinstance(node, nodes.rubric) and text:
            text = f"**{text}**"
        return [text] if text else []
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        code = node.astext()
        language = node.get("language") or next(
            (c for c in node.get("classes", []) if c != "code"), "")
        if isinstance(node, nodes.doctest_block):
            language = "pycon"
        return [f"```{language}\n{code}\n```"] if code.strip() else []
    if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
        start = node.get("start", 1)
        items = []
        for number, item in enumerate(node.children, start):
            marker = "-" if isinstance(node, nodes.bullet_list) else f"{number}."
            items.append(_item(marker, _children_blocks(item)))
        return ["\n".join(i for i in items if i)] if any(items) else []
    if isinstance(node, nodes.definition_list):
        lines = []
        for item in node.children:
            term = " ".join(_inline(c) for c in item.children
                            if isinstance(c, (nodes.term, nodes.classifier)))
            body = [b for c in item.children if isinstance(c, nodes.definition)
                    for b in _children_blocks(c)]
            lines.append(_item("-", [f"**{term}**" + (f": {body[0]}" if body else ""),
                                     *body[1:]]))
        return ["\n".join(lines)] if lines else []
    if isinstance(node, nodes.field_list):
        lines = []
        for field in node.children:
            name = _inline(field[0]).strip() if len(field) else ""
            if name.lower() in METADATA_FIELDS:
                continue
            body = _children_blocks(field[1]) if len(field) > 1 else []
            lines.append(_item("-", [f"**{name}**" + (f": {body[0]}" if body else ""),
                                     *body[1:]]))
        return ["\n".join(lines)] if lines else []
    if isinstance(node, nodes.option_list):
        lines = []
        for item in node.children:
            options = ", ".join(f"`{g.astext()}`" for g in item.findall(nodes.option))
            body = [b for c in item.children if isinstance(c, nodes.description)
                    for b in _children_blocks(c)]
            lines.append(_item("-", [options + (f": {body[0]}" if body else ""), *body[1:]]))
        return ["\n".join(lines)] if lines else []
    if isinstance(node, nodes.table):
        rows = [" | ".join(" ".join(_text_of(entry).split()) for entry in row.children)
                for row in node.findall(nodes.row)]
        return ["\n".join(f"| {r} |" for r in rows)] if rows else []
    if isinstance(node, nodes.line_block):
        lines = [_inline(line) for line in node.findall(nodes.line)]
        return ["\n".join(lines)] if any(lines) else []
    if isinstance(node, (nodes.footnote, nodes.citation)):
        label_node = node.children[0] if node.children else None
        body = _children_blocks(node)
        mark = f"[{label_node.astext()}] " if isinstance(label_node, nodes.label) else ""
        return [mark + body[0], *body[1:]] if body else []
    if isinstance(node, nodes.label):
        return []
    if isinstance(node, nodes.Admonition):
        title = next((c for c in node.children if isinstance(c, nodes.title)), None)
        name = _inline(title) if title is not None else label(node.tagname, "")
        return labelled(name, [b for c in node.children if not isinstance(c, nodes.title)
                               for b in _blocks(c)])
    if isinstance(node, nodes.container) and node.get("label") is not None:
        blocks = _children_blocks(node)
        if not blocks:  # a tab whose body is generated at build time
            return []
        if node.get("signature"):
            return [f"`{node['signature']}`", *blocks]
        return labelled(node.get("label", ""), blocks)
    if isinstance(node, nodes.title):  # of a topic, a sidebar, a table
        text = _inline(node).strip()
        return [f"**{text}**"] if text else []
    if isinstance(node, nodes.Element):
        return _children_blocks(node)
    return []


def _children_blocks(node: nodes.Node) -> list[str]:
    return [b for child in getattr(node, "children", []) for b in _blocks(child)]


def _item(marker: str, blocks: list[str]) -> str:
    """One list item: the marker before the first line, the rest indented under it."""
    if not blocks:
        return ""
    pad = " " * (len(marker) + 1)
    lines = "\n\n".join(blocks).splitlines()
    return "\n".join([f"{marker} {lines[0]}", *(pad + line if line else line
                                                  for line in lines[1:])])


def _inline(node: nodes.Node) -> str:
    """Inline markup as Markdown: emphasis, literals, links with a web address."""
    if isinstance(node, nodes.Text):
        return node.astext()
    if isinstance(node, (nodes.target, nodes.system_message, nodes.raw, nodes.image,
                         nodes.footnote_reference, nodes.citation_reference, nodes.comment)):
        return ""
    if isinstance(node, nodes.problematic):
        text = node.astext()
        # An undefined substitution (`|version|`, filled in by Sphinx) vanishes.
        return "" if text.startswith("|") and text.endswith("|") else text
    inner = "".join(_inline(c) for c in node.children)
    if isinstance(node, nodes.literal):
        fence = "``" if "`" in inner else "`"
        return f"{fence}{inner}{fence}" if inner else ""
    if isinstance(node, nodes.strong):
        return f"**{inner}**" if inner.strip() else inner
    if isinstance(node, nodes.emphasis):
        return f"*{inner}*" if inner.strip() else inner
    if isinstance(node, nodes.reference):
        uri = node.get("refuri", "")
        if uri.startswith(("http://", "https://", "mailto:")) and inner and inner != uri:
            return f"[{inner}]({uri})"
        return inner
    return inner


def _plain(node: nodes.Node) -> str:
    """A title as plain text: roles and substitutions resolved, no markup."""
    return " ".join(_text_of(node).split())


def _text_of(node: nodes.Node) -> str:
    if isinstance(node, nodes.Text):
        return node.astext()
    if isinstance(node, (nodes.system_message, nodes.target, nodes.raw, nodes.image,
                         nodes.comment)):
        return ""
    if isinstance(node, nodes.problematic):
        text = node.astext()
        return "" if text.startswith("|") and text.endswith("|") else text
    return "".join(_text_of(c) for c in getattr(node, "children", []))
