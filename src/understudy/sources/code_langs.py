"""Snippets of languages other than Python, through tree-sitter grammars bundled offline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..records import Snippet

LANGUAGES = {
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".rb": "ruby", ".php": "php",
}


@dataclass(frozen=True)
class Grammar:
    """Which nodes of a language's tree are snippets, and which only scope the names inside."""

    functions: frozenset[str]  # emitted; what they contain stays in their code
    classes: frozenset[str]  # emitted; their methods are snippets of their own
    scopes: frozenset[str] = frozenset()  # not emitted; their name prefixes what they hold
    method_scopes: frozenset[str] = frozenset()  # scopes whose functions are methods
    wrappers: frozenset[str] = field(default_factory=lambda: frozenset({
        "export_statement", "template_declaration", "decorated_definition"}))


_JS_FUNCTIONS = {"function_declaration", "generator_function_declaration", "method_definition"}
_JS_CLASSES = {"class_declaration"}
_TS_CLASSES = _JS_CLASSES | {"abstract_class_declaration", "interface_declaration",
                             "enum_declaration"}

GRAMMARS: dict[str, Grammar] = {
    "javascript": Grammar(frozenset(_JS_FUNCTIONS), frozenset(_JS_CLASSES)),
    "typescript": Grammar(frozenset(_JS_FUNCTIONS), frozenset(_TS_CLASSES),
                          frozenset({"internal_module", "module"})),
    "go": Grammar(frozenset({"function_declaration", "method_declaration"}),
                  frozenset({"type_spec"})),
    "rust": Grammar(frozenset({"function_item"}),
                    frozenset({"struct_item", "enum_item", "trait_item", "union_item"}),
                    frozenset({"impl_item", "mod_item"}), frozenset({"impl_item"})),
    "java": Grammar(frozenset({"method_declaration", "constructor_declaration"}),
                    frozenset({"class_declaration", "interface_declaration", "enum_declaration",
                               "record_declaration"})),
    "c": Grammar(frozenset({"function_definition"}),
                 frozenset({"struct_specifier", "union_specifier"})),
    "cpp": Grammar(frozenset({"function_definition"}),
                   frozenset({"class_specifier", "struct_specifier", "union_specifier"}),
                   frozenset({"namespace_definition"})),
    "ruby": Grammar(frozenset({"method", "singleton_method"}), frozenset({"class", "module"})),
    "php": Grammar(frozenset({"function_definition", "method_declaration"}),
                   frozenset({"class_declaration", "interface_declaration",
                              "trait_declaration", "enum_declaration"}),
                   frozenset({"namespace_definition"})),
}
GRAMMARS["tsx"] = GRAMMARS["typescript"]

_NAME_TYPES = {"identifier", "field_identifier", "type_identifier", "property_identifier",
               "qualified_identifier", "destructor_name", "operator_name", "constant",
               "scope_resolution", "namespace_identifier", "name", "private_property_identifier"}
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function",
                    "generator_function"}
_COMMENT = re.compile(r"^\s*(///?!?|/\*\*?|\*/|\*|#)\s?")


class ParseError(Exception):
    """A file the grammar could not parse; `line` is where the first error is."""

    def __init__(self, line: int, detail: str):
        super().__init__(detail)
        self.line, self.detail = line, detail


@cache
def parser_for(language: str) -> Any:
    """The tree-sitter parser of `language`, from the grammars shipped in the package."""
    from tree_sitter_language_pack import get_parser

    return get_parser(language)  # type: ignore[arg-type]


def tree_sitter_snippets(
    text: str, path: str, language: str, source: str = "code"
) -> list[Snippet]:
    """Functions, classes, methods and types of one file, named by their enclosing scopes.

    Raises ParseError when the grammar finds a syntax error anywhere in the file.
    """
    data = text.encode("utf-8")
    tree = parser_for(language).parse(data)
    root = tree.root_node
    if root.has_error:
        line, detail = _first_error(root)
        raise ParseError(line, detail)
    grammar = GRAMMARS[language]
    lines = text.splitlines(keepends=True)
    found: list[Snippet] = []
    seen: dict[str, int] = {}

    def emit(node: Any, name: str, kind: str, prefix: str, inner: list[tuple[int, int]]) -> tuple:
        outer = node.parent if node.parent is not None and node.parent.type in (
            grammar.wrappers | {"type_declaration"}) and node.parent.named_child_count == 1 \
            else node
        start, end = outer.start_point[0] + 1, node.end_point[0] + 1
        qualified = unique(prefix + name, seen)
        found.append(Snippet(source, path, qualified, language, kind,
                             code_lines(lines, start, end, inner), _doc_comment(outer), [],
                             start, end))
        return start, end

    def visit(node: Any, prefix: str, in_class: bool) -> list[tuple[int, int]]:
        taken: list[tuple[int, int]] = []
        for child in node.named_children:
            kind = child.type
            if kind in grammar.functions:
                name = _function_name(child, language)
                if name:
                    scope = _receiver(child) if language == "go" else ""
                    method = in_class or bool(scope) or "." in name or kind in (
                        "method_definition", "method_declaration")
                    taken.append(emit(child, name, "method" if method else "function",
                                      prefix + scope, []))
                    continue
            elif kind in grammar.classes and _is_definition(child):
                name = _name(child)
                if name:
                    qualified = prefix + name
                    inner = visit(child, qualified + ".", True)
                    label = "class" if "class" in kind or kind in ("module",) else "type"
                    taken.append(emit(child, name, label, prefix, inner))
                    continue
            elif kind in grammar.scopes:
                name = _name(child, "type") if kind == "impl_item" else _name(child)
                scoped = f"{prefix}{name}." if name else prefix
                taken += visit(child, scoped, kind in grammar.method_scopes)
                continue
            elif kind in ("lexical_declaration", "variable_declaration") and language in (
                    "javascript", "typescript", "tsx"):
                declared = _function_variable(child)
                if declared:
                    taken.append(emit(child, declared, "method" if in_class else "function",
                                      prefix, []))
                    continue
            if child.named_child_count and kind not in _FUNCTION_VALUES:
                taken += visit(child, prefix, in_class)
        return taken

    visit(root, "", False)
    found.sort(key=lambda s: s.start_line)
    return found


def _first_error(root: Any) -> tuple[int, str]:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            return node.start_point[0] + 1, what
        if node.has_error:
            stack.extend(reversed(node.children))
    return root.start_point[0] + 1, "syntax error"


def _text(node: Any) -> str:
    return node.text.decode("utf-8", errors="replace") if node is not None else ""


def _name(node: Any, field_name: str = "name") -> str:
    named = node.child_by_field_name(field_name)
    if named is None:
        return ""
    text = _text(named)
    return re.sub(r"<.*>$", "", text).replace("::", ".").strip()  # Foo<T> -> Foo


def _is_definition(node: Any) -> bool:
    """A struct or class with a body, not a mention of one (`struct point p;`)."""
    if node.type.endswith("_specifier"):
        return node.child_by_field_name("body") is not None
    return True


def _function_name(node: Any, language: str) -> str:
    if language in ("c", "cpp"):
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type not in _NAME_TYPES:
            declarator = declarator.child_by_field_name("declarator")
        return _text(declarator).replace("::", ".")
    name = _name(node)
    if node.type == "singleton_method" and name:
        return f"self.{name}"
    return name


def _receiver(node: Any) -> str:
    """`Server.` for a Go method on `*Server` (or `Server[T]`)."""
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return ""
    for part in receiver.named_children:
        kind = part.child_by_field_name("type")
        if kind is not None:
            name = re.sub(r"\[.*\]$", "", _text(kind).lstrip("*"))
            return f"{name}." if name else ""
    return ""


def _function_variable(node: Any) -> str:
    """The name in `const f = () => ...` or `let g = function () {...}`."""
    for declarator in node.named_children:
        if declarator.type != "variable_declarator":
            continue
        value = declarator.child_by_field_name("value")
        if value is not None and value.type in _FUNCTION_VALUES:
            return _name(declarator)
    return ""


def _doc_comment(node: Any) -> str:
    """The comment lines right above a definition, without comment markers."""
    comments: list[str] = []
    current = node.prev_named_sibling
    line = node.start_point[0]
    while current is not None and "comment" in current.type and current.end_point[0] >= line - 1:
        comments.append(_text(current))
        line = current.start_point[0]
        current = current.prev_named_sibling
    text = "\n".join(reversed(comments))
    cleaned = [_COMMENT.sub("", row).rstrip().removesuffix("*/").rstrip()
               for row in text.splitlines()]
    return "\n".join(row for row in cleaned if row.strip()).strip()


def unique(name: str, seen: dict[str, int]) -> str:
    """`name`, or `name (2)` and so on for a name defined again (a property setter, say)."""
    count = seen.get(name, 0) + 1
    seen[name] = count
    return name if count == 1 else f"{name} ({count})"


def code_lines(lines: list[str], start: int, end: int, inner: list[tuple[int, int]]) -> str:
    """Lines start..end (1-based, inclusive) exactly as written, without the `inner` ranges.

    A definition that starts on the container's own first line (a one-line class) stays.
    """
    skip: set[int] = set()
    for first, last in inner:
        if first != start:
            skip.update(range(first, last + 1))
    return "".join(lines[n - 1] for n in range(start, end + 1) if n not in skip).rstrip("\n")
