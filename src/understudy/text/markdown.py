"""Markdown to plain text for matching and training, with long logs collapsed to one line."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

MAX_BLOCK_LINES = 15  # a code block, log or traceback longer than this collapses to one line
_MARKER_LINE_CHARS = 160

_md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Inline parsing costs markdown-it-py about 30 microseconds for each `[` and `![` (each tries
# to read a link, even when it fails: 20 KB of `![` took 0.6 s), 17 for each `*`, `_`, `~` and
# backtick (a delimiter: 300 KB of `*a` took 2.6 s), 10 for each line break (two tokens and two
# tree nodes: 43,000 lines of `/close` took 0.7 s) and 4 for each `\\`, `&` and `<`. Past this
# budget in one text, in microseconds, the inline content that costs most is read by a plain
# cleaner instead of the parser, until at most the budget is left to it. The costliest text of
# the samples, these docs and the public data sets needs a third of it.
MAX_INLINE_COST = 60_000


def _inline_cost(content: str) -> int:
    count = content.count
    return (30 * count("[") + 17 * (count("*") + count("_") + count("~") + count("`"))
            + 10 * count("\n") + 4 * (count("\\") + count("&") + count("<")))


def _guard_inline(state: StateCore) -> None:
    """Mark the inline content that costs most for the plain cleaner, until the rest costs at
    most MAX_INLINE_COST."""
    costs = [(_inline_cost(token.content), index) for index, token in enumerate(state.tokens)
             if token.type == "inline"]
    total = sum(cost for cost, _ in costs)
    if total <= MAX_INLINE_COST:
        return
    for cost, index in sorted(costs, reverse=True):
        state.tokens[index].type = "inline_plain"
        total -= cost
        if total <= MAX_INLINE_COST:
            break


_md.core.ruler.before("inline", "guard_inline", _guard_inline)

# Characters that stop markdown-it's text rule but mean nothing inline here (`-`, `#`, `+`,
# `=`, `:`, `@`, ...: no typographer, no linkify) were read one by one through every inline rule:
# 300 KB of PEM headers took 0.5 s. A run of them and of plain text is read at once; the text
# is the same.
_PLAIN_RUN = re.compile(r"[^\n!&*_<\[\]\\`~]+")


def _plain_run(state: StateInline, silent: bool) -> bool:
    match = _PLAIN_RUN.match(state.src, state.pos, state.posMax)
    if match is None:
        return False
    if not silent:
        if hasattr(state, "append_pending"):  # markdown-it-py 4: without copying what is pending
            state.append_pending(match.group())
        else:
            state.pending += match.group()
    state.pos = match.end()
    return True


_md.inline.ruler.after("text", "plain_run", _plain_run)

_LOG_LINE = re.compile(
    "|".join(
        [
            r"^\s*Traceback \(most recent call last\):",
            r'^\s*File "[^"]+", line \d+',
            r"^\s*(?:During handling of the above exception|The above exception was the direct)",
            r"^\s*at [\w$.<>\[\]/@-]+(?: \[as \w+\])? ?\(.*\)\s*$",  # Java, JavaScript
            r"^\s*at \S+:\d+(?::\d+)?\)?\s*$",
            r"^\s*\.\.\. \d+ more\s*$",
            r"^\s*Caused by: ",
            r"^\s*(?:[\w$]+\.)*\w*(?:Error|Exception|Warning|Panic)\b(?::.*)?$",
            r"^\s*\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}",  # ISO timestamps
            r"^\s*\[?\d{2}:\d{2}:\d{2}",
            r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2}",
            r"^\d{1,3}(?:\.\d{1,3}){3} \S+ \S+ \[",  # web server access logs
            r"^\s*\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|SEVERE|PANIC)"
            r"\]?(?:[\s:|-]|$)",
            r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}",  # glog
            r"^goroutine \d+ \[",
            r"^\s+/\S+\.go:\d+",
            r"^\s*(?:from )?\S+\.rb:\d+:in ",
            r"^\s*\d+: [\w:<>]+",  # Rust backtrace frames
            r"^npm (?:ERR!|WARN) ",
            r'^\s*\{"(?:time|ts|level|severity|msg|message|timestamp)"',
            r"^\s*\^+\s*$",
        ]
    )
)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue000")
_EMAIL_ATTRIBUTION = re.compile(r"^\s*On\b.{3,300}\b(?:wrote|a écrit|schrieb|escribió):\s*$")
_EMAIL_SEPARATOR = re.compile(r"^\s*(?:-{3,} ?Original Message ?-{3,}|_{10,})\s*$", re.I)
_GENERIC_ALT = re.compile(
    r"^(?:image|img|screenshot|screen ?shot|pasted[ _-]?image|capture|untitled|photo)\b.*"
    r"|.*\.(?:png|jpe?g|gif|svg|webp|bmp|tiff?)$",
    re.I,
)
_TASK_BOX = re.compile(r"^\[[ xX]\]\s+")
_LOG_INFOS = {"", "text", "txt", "log", "logs", "console", "output", "plaintext", "plain",
              "shell-session", "pytb", "traceback", "stacktrace", "stack", "trace"}


def markdown_to_text(body: str) -> str:
    """Plain text of a markdown body, for matching and training.

    Links keep their text, images keep a meaningful alt text, HTML tags and comments go,
    headings, list items and table rows become lines, short code stays. Code blocks, logs
    and tracebacks over MAX_BLOCK_LINES lines (fenced, indented, in <pre>, or pasted
    unfenced) collapse to "[log: N lines] <first line> ... <last line>". Email-style
    quoted replies (after an "On ... wrote:" line or an "Original Message" separator) are
    dropped, since they repeat an earlier message; other "> " quotes are kept as lines.
    """
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").replace("\ue000", "")
    lines = _drop_email_quotes(body)
    markers: list[str] = []
    source, tokens = _collapse_unfenced_logs(lines, markers)
    text = "\n\n".join(_blocks(SyntaxTreeNode(tokens or _md.parse(source))))
    text = _PLACEHOLDER.sub(lambda m: markers[int(m.group(1))], text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _drop_email_quotes(body: str) -> list[str]:
    """Source lines without quoted earlier emails."""
    lines = body.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _EMAIL_SEPARATOR.match(line) and (
            "Original" in line or any(x.startswith("From:") for x in lines[i + 1:i + 3])
        ):
            break  # everything below is the earlier conversation
        two = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        attribution = 1 if _EMAIL_ATTRIBUTION.match(line) else 0
        if not attribution and line.lstrip().startswith("On ") and _EMAIL_ATTRIBUTION.match(two):
            attribution = 2
        if attribution:
            j = i + attribution
            while j < len(lines) and (lines[j].lstrip().startswith(">") or not lines[j].strip()):
                j += 1
            if j > i + attribution:  # only when a quote follows the attribution
                i = j
                continue
        kept.append(line)
        i += 1
    return kept


def _collapse_unfenced_logs(lines: list[str], markers: list[str]) -> tuple[str, list[Token]]:
    """The source with long pasted logs outside code blocks replaced by placeholders, and its
    tokens when they were parsed already (the source is parsed only when it may hold a log)."""
    source = "\n".join(lines)
    # a log run is more than MAX_BLOCK_LINES lines, half of them log lines
    if sum(1 for line in lines if _LOG_LINE.match(line)) * 2 <= MAX_BLOCK_LINES:
        return source, []
    tokens = _md.parse(source)
    covered: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block", "html_block") and token.map:
            covered.update(range(*token.map))
    out: list[str] = []
    i = 0
    while i < len(lines):
        end = _log_run_end(lines, i) if i not in covered else i
        if end > i and not covered.intersection(range(i, end)):
            markers.append(_marker(lines[i:end], "log"))
            out += ["", f"\ue000{len(markers) - 1}\ue000", ""]
            i = end
        else:
            out.append(lines[i])
            i += 1
    return ("\n".join(out), []) if markers else (source, tokens)


def _log_run_end(lines: list[str], start: int) -> int:
    """End of a long log run starting at `start`, or `start` when there is none."""
    if not _LOG_LINE.match(lines[start]):
        return start
    end, hits = start + 1, 1
    while end < len(lines):
        line = lines[end]
        if _LOG_LINE.match(line):
            hits += 1
        elif not line.strip():
            if end + 1 >= len(lines) or not _LOG_LINE.match(lines[end + 1]):
                break
        elif not line[:1].isspace():
            break
        end += 1
    size = end - start
    return end if size > MAX_BLOCK_LINES and hits * 2 >= size else start


def _marker(lines: list[str], kind: str) -> str:
    """One line standing for a long block: its kind, size, first and last line."""
    content = [line.strip() for line in lines if line.strip()]
    first, last = (_clip(content[0]), _clip(content[-1])) if content else ("", "")
    return f"[{kind}: {len(lines)} lines] {first} ... {last}".rstrip()


def _clip(line: str) -> str:
    return line if len(line) <= _MARKER_LINE_CHARS else line[:_MARKER_LINE_CHARS] + "…"


def _is_log(lines: list[str]) -> bool:
    content = [line for line in lines if line.strip()]
    return sum(1 for line in content if _LOG_LINE.match(line)) * 2 >= len(content)


def _blocks(node: SyntaxTreeNode) -> list[str]:
    """Text blocks of a markdown syntax tree node."""
    kind = node.type
    if kind in ("inline", "inline_plain"):
        return [_inline(node)]
    if kind in ("fence", "code_block"):
        lines = node.content.rstrip("\n").split("\n")
        if len(lines) <= MAX_BLOCK_LINES:
            return [node.content.rstrip()]
        info = (node.info or "").strip().split(" ")[0].lower()
        return [_marker(lines, "log" if info in _LOG_INFOS or _is_log(lines) else "code")]
    if kind == "html_block":
        return [_html_text(node.content)]
    if kind == "hr":
        return []
    if kind in ("bullet_list", "ordered_list"):
        return ["\n".join(_list_lines(node, 0))]
    if kind == "table":
        return ["\n".join(_table_rows(node))]
    blocks: list[str] = []
    for child in node.children:
        blocks += [b for b in _blocks(child) if b.strip()]
    return blocks


def _list_lines(node: SyntaxTreeNode, depth: int) -> list[str]:
    """One line per list item, nested items indented."""
    lines: list[str] = []
    for number, item in enumerate(node.children, start=int(node.attrs.get("start", 1) or 1)):
        bullet = f"{number}." if node.type == "ordered_list" else "-"
        first = True
        for child in item.children:
            if child.type in ("bullet_list", "ordered_list"):
                lines += _list_lines(child, depth + 1)
                continue
            for block in _blocks(child):
                if first:
                    block = f"{'  ' * depth}{bullet} {_TASK_BOX.sub('', block)}"
                    first = False
                lines.append(block)
    return lines


def _table_rows(node: SyntaxTreeNode) -> list[str]:
    rows: list[str] = []
    for section in node.children:
        for row in section.children:
            rows.append(" | ".join(_inline(cell.children[0]) if cell.children else ""
                                   for cell in row.children))
    return rows


def _inline(node: SyntaxTreeNode) -> str:
    """Text of an inline node: link text, inline code, meaningful image alt text."""
    if node.type == "inline_plain":
        return _plain_inline(node.content)
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            alt = child.content.strip()
            if alt and not _GENERIC_ALT.match(alt):
                parts.append(alt)
        elif kind == "html_inline":
            if re.match(r"<br\s*/?>", child.content, re.I):
                parts.append("\n")
        elif child.children:
            parts.append(_inline(child))
    return re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", "".join(parts)).strip()


_PLAIN_LINK = re.compile(r"(!?)\[([^\[\]\n]*+)\]\([^()\s]*+(?:[ \t]++\"[^\"\n]*+\")?\)")
# inline code (its text kept as it is) or an emphasis mark (dropped), in one pass
# (a run of backticks is tried from its start only: from inside it each try would rescan it)
_PLAIN_CODE_OR_EMPHASIS = re.compile(
    r"(?<!`)`++([^`\n]++)`++|\*++|~~++|(?<!\w)__?+|__?+(?!\w)")
_PLAIN_TAG = re.compile(r"<(br\b)?[^<>\n]*+>", re.I)
_PLAIN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _plain_inline(content: str) -> str:
    """Inline content read without the Markdown parser, in one pass per construct: link text,
    meaningful image alt text, inline code, no emphasis marks, tags or escapes. For content too
    costly to parse."""
    def link(match: re.Match[str]) -> str:
        text = match.group(2).strip()
        return "" if match.group(1) and (not text or _GENERIC_ALT.match(text)) else text

    text = _PLAIN_LINK.sub(link, content)
    text = _PLAIN_CODE_OR_EMPHASIS.sub(lambda m: m.group(1) or "", text)
    text = _PLAIN_TAG.sub(lambda m: "\n" if m.group(1) else "", text)
    text = html.unescape(_PLAIN_ESCAPE.sub(r"\1", text))
    return re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text).strip()


def _html_text(raw: str) -> str:
    """Text of an HTML block: no comments, scripts or tags; long logs collapsed."""
    text = re.sub(r"<!--.*?(?:-->|$)|<(script|style)\b.*?(?:</\1>|$)", "", raw, flags=re.S | re.I)
    text = re.sub(r"<br\s*/?>|</?(?:p|div|tr|li|summary|details|h\d|pre|table)\b[^>]*>", "\n",
                  text, flags=re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_BLOCK_LINES:
        return _marker(lines, "log" if _is_log(lines) else "code")
    return "\n".join(line for line in lines if line.strip())
