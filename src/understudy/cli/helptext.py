"""Help in the words of the README: `--since DATE`, `--limit N`, not `<str>` or `<int range>`.

Typer labels every option with its Python type and a number range in brackets. Each option is
given a metavar here instead (one it declares itself wins), flags get none, and a range moves
into the help text as words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from typer.core import TyperArgument, TyperOption

# Option name -> the word README.md uses for its value.
WORDS = {
    "since": "DATE", "until": "DATE", "backend": "NAME", "model": "MODEL", "judge": "MODEL",
    "system": "NAME", "team": "NAME", "status": "STATUS", "group": "PATH", "repo": "OWNER/NAME",
    "org": "ORG", "output": "DIR", "file": "FILE", "home": "DIR", "base_url": "URL",
    "columns": "FIELD=COLUMN", "kind": "KIND", "format": "FORMAT", "fmt": "FORMAT",
    "host": "HOST", "port": "PORT", "train": "FILE", "metric": "NAME", "suffix": "TEXT",
    "poll": "SECONDS", "subtask": "A|B|C", "valid_share": "SHARE", "threshold": "NUMBER",
    "target": "NUMBER",
}
# Argument name -> how README.md writes it.
ARGUMENT_WORDS = {"refs": "URL|FILE|-", "ref": "ID|NAME"}
# Where one option name means different things, by command.
COMMAND_WORDS = {("gitlab", "project"): "PATH"}
BY_TYPE: dict[Any, str] = {int: "N", float: "NUMBER", Path: "PATH"}


def _word(command: str, param: TyperOption) -> str:
    name = param.name or ""
    found = COMMAND_WORDS.get((command, name)) or WORDS.get(name)
    if found:
        return found
    annotation = param.type_descriptor.annotation
    for kind in (annotation, *get_args(annotation)):  # int | None is an int
        if kind in BY_TYPE:
            return BY_TYPE[kind]
    return "NAME" if name == "project" else name.upper()


def _range_words(param: TyperOption) -> str:
    low, high = param.min, param.max
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return ""


def tidy(command: Any, name: str = "") -> None:
    """Give every option of `command` and its subcommands a README metavar, recursively."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            # The argument's name says what it is (URL|FILE|-, DRAFT_ID); its type adds nothing.
            if param.metavar is None:
                param.metavar = ARGUMENT_WORDS.get(param.name or "", (param.name or "").upper())
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            continue
        if not isinstance(param, TyperOption):
            continue
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _word(name, param)
        words = "" if param.count else _range_words(param)
        if words:
            text = (param.help or "").rstrip()
            stop = "." if text.endswith(".") else ""
            param.help = f"{text.removesuffix('.')} ({words}){stop}".strip()
            param._get_number_range_help_str = lambda: None  # type: ignore[method-assign]
    _quiet_help_option(command)
    for sub_name, sub in (getattr(command, "commands", None) or {}).items():
        tidy(sub, sub_name)


def _quiet_help_option(command: Any) -> None:
    """--help is a flag like any other: no value label."""
    made = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
