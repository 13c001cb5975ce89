"""Sections of a Markdown or MyST page, parsed by markdown-it-py and read back as Markdown text.

MyST (the Markdown of Sphinx projects) adds roles (`{ref}`text <label>``), directives
(```{note}``, ```{toctree}``, `:::{tip}`), targets (`(label)=`), comments, block breaks,
front matter and `{{ substitutions }}`. The mdit-py-plugins parse them; here each becomes
the text a reader of the published page sees, or vanishes.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

from .docs_formats import (
    CODE,
    LABELS,
    VANISHING,
    Section,
    label,
    label_argument,
    labelled,
    role_text,
)

_ROLE_NAME = re.compile(r"\{([a-zA-Z0-9_\-+:]+)\}")


def _myst_role(state: StateInline, silent: bool) -> bool:
    """`{name}`content``, as mdit-py-plugins parses it, in linear time.

    The plugin's rule copies the rest of the paragraph at every `{` and searches all of it
    for the closing backticks, so 1 MB of `{r}`` took a minute; here the name is matched in
    place and a failed search for a closing run is remembered for the rest of the block.
    """
    src = state.src
    if src[state.pos] != "{":
        return False
    match = _ROLE_NAME.match(src, state.pos)
    if not match:
        return False
    start = pos = match.end()
    while pos < state.posMax and src[pos] == "`":
        pos += 1
    ticks = pos - start
    if not ticks:
        return False
    # Per inline block: the first position past which no closing run of that length exists.
    unclosed: dict[int, int] = state.__dict__.setdefault("_myst_role_unclosed", {})
    if unclosed.get(ticks, len(src) + 1) <= pos:
        return False
    close = src.find("`" * ticks, pos + 1)
    if close == -1:
        unclosed[ticks] = min(unclosed.get(ticks, pos), pos)
        return False
    if close >= state.posMax:
        return False
    if not silent:
        token = state.push("myst_role", "", 0)
        token.meta = {"name": match[1]}
        token.content = src[pos:close].replace("\n", " ")
    state.pos = close + ticks
    return True


# commonmark bounds nesting at 20 levels, which also bounds the recursion below.
_md = (MarkdownIt("commonmark").enable(["table", "strikethrough"])
       .use(front_matter_plugin).use(myst_role_plugin).use(myst_block_plugin)
       .use(colon_fence_plugin).use(deflist_plugin))
_md.inline.ruler.at("myst_role", _myst_role)
MAX_DIRECTIVE_DEPTH = 8  # directives inside directives; deeper bodies are kept as text
_SUBSTITUTION = re.compile(r"\{\{[^{}\n]{0,200}\}\}")
_OPTION = re.compile(r"^:[\w-]+:")
_DROPPED = {"front_matter", "myst_target", "myst_line_comment", "myst_block_break", "hr"}


def slugify(heading: str) -> str:
    """The anchor GitLab and GitHub give a heading: lowercase, punctuation dropped, dashes."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", slug)


def markdown_sections(text: str, depth: int = 0) -> list[Section]:
    """Sections of a Markdown page by heading: trail, anchor, Markdown blocks without MyST."""
    root = SyntaxTreeNode(_md.parse(text))
    sections: list[Section] = [([], "", [])]
    stack: list[tuple[int, str]] = []
    anchors: dict[str, int] = {}
    # A page whose title is only in its front matter (no level-1 heading) leads its trail with
    # it: "npm-install > Description", not a "Description" like every other command's page.
    title = _front_matter(root, _TITLE)
    if title and not any(n.type == "heading" and n.tag == "h1" for n in root.children):
        stack.append((0, title))
        sections[0] = ([title], "", [])
    # Its `description:` is the page's summary in its authors' words, often the words a user's
    # question uses ("Check for outdated packages"): it opens the page's first passage.
    description = _front_matter(root, _DESCRIPTION)
    if description:
        sections[0][2].append(description)
    for node in root.children:
        if node.type == "heading":
            name = _plain(node)
            if not name:
                continue
            level = int(node.tag[1:])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
            slug = slugify(name)
            seen = anchors.get(slug, 0)
            anchors[slug] = seen + 1
            sections.append(([n for _, n in stack], f"{slug}-{seen}" if seen else slug, []))
            continue
        sections[-1][2].extend(_blocks(node, depth))
    return [s for s in sections if s[2]]


_TITLE = re.compile(r"^title\s*:\s*(.+?)\s*$", re.MULTILINE)
_DESCRIPTION = re.compile(r"^description\s*:\s*(.+?)\s*$", re.MULTILINE)


def _front_matter(root: SyntaxTreeNode, field: re.Pattern[str]) -> str:
    """A one-line field (`title:`, `description:`) of the page's YAML front matter, or ""."""
    for node in root.children[:1]:
        if node.type == "front_matter":
            found = field.search(node.content or "")
            if found:
                return found.group(1).strip().strip("\"'").strip()
    return ""


def markdown_blocks(text: str, depth: int = 0) -> list[str]:
    """The blocks of a Markdown fragment (a directive's body), headings as bold lines."""
    blocks: list[str] = []
    for trail, _, body in markdown_sections(text, depth):
        if trail:
            blocks.append(f"**{trail[-1]}**")
        blocks.extend(body)
    return blocks


def _blocks(node: SyntaxTreeNode, depth: int) -> list[str]:
    kind = node.type
    if kind in _DROPPED:
        return []
    if kind == "paragraph":
        text = _inline(node).strip()
        return [text] if text else []
    if kind == "heading":  # inside a list or a quote
        text = _plain(node)
        return [f"**{text}**"] if text else []
    if kind in ("fence", "colon_fence"):
        info = node.info.strip()
        if info.startswith("{") and "}" in info:
            return _directive(info, node.content, depth)
        fence = node.markup if kind == "fence" else "```"
        return [f"{fence}{info}\n{node.content.rstrip(chr(10))}\n{fence}"]
    if kind == "code_block":
        return [f"```\n{node.content.rstrip(chr(10))}\n```"]
    if kind == "html_block":
        html = node.content.strip()
        if html.startswith("<!--") and html.endswith("-->"):
            return []
        return [html] if html else []
    if kind in ("bullet_list", "ordered_list"):
        start = int(node.attrs.get("start", 1) or 1)
        items = []
        for number, item in enumerate(node.children, start):
            marker = (node.markup or "-") if kind == "bullet_list" else f"{number}{node.markup}"
            inner = [b for child in item.children for b in _blocks(child, depth)]
            tight = any(c.type == "paragraph" and c.hidden for c in item.children)
            items.append(_item(marker, inner, "\n" if tight else "\n\n"))
        lines = [i for i in items if i]
        return ["\n".join(lines)] if lines else []
    if kind == "blockquote":
        inner = [b for child in node.children for b in _blocks(child, depth)]
        text = "\n\n".join(inner)
        quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
        return [quoted] if text else []
    if kind == "table":
        rows = []
        for row in _rows(node):
            rows.append("| " + " | ".join(_inline(cell).strip() for cell in row.children) + " |")
            if len(rows) == 1:
                rows.append("|" + " --- |" * len(row.children))
        return ["\n".join(rows)] if rows else []
    if kind == "dl":
        lines = []
        for child in node.children:
            if child.type == "dt":
                lines.append(f"**{_inline(child).strip()}**")
            elif child.type == "dd":
                inner = [b for c in child.children for b in _blocks(c, depth)]
                lines.append(_item(":", inner))
        return ["\n".join(line for line in lines if line)] if lines else []
    return [b for child in node.children for b in _blocks(child, depth)]


def _rows(table: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    return [row for part in table.children for row in part.children if row.type == "tr"]


def _directive(info: str, body: str, depth: int) -> list[str]:
    """A MyST directive: its body read as a reader sees it, or nothing."""
    name, _, argument = info[1:].partition("}")
    name, argument = name.strip().lower(), argument.strip()
    body = _strip_options(body)
    if name in VANISHING:
        return []
    if name in CODE or _is_console(body):
        language = argument.split()[0] if argument.split() else ("console" if name not in CODE
                                                                   else "")
        return [f"```{language}\n{body.rstrip()}\n```"] if body.strip() else []
    text = ""
    if name in LABELS:
        argument, text = label_argument(name, argument)
        body = f"{text}\n\n{body}" if text else body
    if not body.strip():
        return []  # its text is generated at build time
    if depth >= MAX_DIRECTIVE_DEPTH:
        return [body.strip()]
    if name == "eval-rst":
        from .docs_rst import rst_blocks

        return rst_blocks(body)
    inner = markdown_blocks(body, depth + 1)
    if ":" in name and argument:  # an object description: `{py:function} f(x)`
        return [f"`{argument}`", *inner] if inner else []
    return labelled(label(name, argument) or argument, inner) if inner else []


def _strip_options(body: str) -> str:
    """A directive body without its options (`:maxdepth: 2` lines or a `---` YAML block)."""
    lines = body.split("\n")
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            lines = lines[end + 1:]
    start = 0
    while start < len(lines) and _OPTION.match(lines[start]):
        start += 1
    return "\n".join(lines[start:])


def _is_console(body: str) -> bool:
    """Whether a body is a shell session (`$ pip install ...`): it reads as code."""
    lines = [line for line in body.splitlines() if line.strip()]
    return bool(lines) and lines[0].lstrip().startswith(("$ ", "> ", ">>> ", "C:\\>"))


def _item(marker: str, blocks: list[str], joiner: str = "\n\n") -> str:
    """One list item: the marker before the first line, the rest indented under it."""
    if not blocks:
        return ""
    pad = " " * (len(marker) + 1)
    lines = joiner.join(blocks).splitlines()
    return "\n".join([f"{marker} {lines[0]}", *(pad + line if line else line
                                                  for line in lines[1:])])


def _inline(node: SyntaxTreeNode) -> str:
    """Inline markup as Markdown: roles resolved, substitutions and images dropped."""
    parts: list[str] = []
    for child in _inline_children(node):
        parts.append(_inline_node(child))
    return _SUBSTITUTION.sub("", "".join(parts))


def _inline_children(node: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    if node.type == "inline":
        return node.children
    return [c for child in node.children for c in _inline_children(child)]


def _inline_node(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "text":
        return node.content
    if kind == "code_inline":
        return f"{node.markup}{node.content}{node.markup}"
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "myst_role":
        return role_text(str(node.meta.get("name", "")), node.content)
    if kind in ("image", "html_inline"):
        return ""
    inner = "".join(_inline_node(c) for c in node.children)
    if kind in ("em", "strong", "s"):
        return f"{node.markup}{inner}{node.markup}" if inner.strip() else inner
    if kind == "link":
        href = str(node.attrs.get("href", ""))
        if node.markup == "autolink" or not href.startswith(("http://", "https://", "mailto:")):
            return inner  # a page of the same site: its link text reads alone
        return f"[{inner}]({href})" if inner != href else inner
    return inner


def _plain(node: SyntaxTreeNode) -> str:
    """A heading as plain text: roles resolved, no markup."""
    parts = []
    for child in _inline_children(node):
        if child.type == "myst_role":
            parts.append(role_text(str(child.meta.get("name", "")), child.content).strip("`"))
        elif child.type in ("image", "html_inline"):
            continue
        else:
            parts.append(_plain_text(child))
    return " ".join(_SUBSTITUTION.sub("", "".join(parts)).split())


def _plain_text(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain_text(c) for c in node.children)
