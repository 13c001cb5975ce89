"""Every command has help text and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import typer

from understudy.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text()


def _commands(group, prefix: str = "understudy"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if hasattr(command, "commands"):
            yield from _commands(command, path)


def test_every_command_has_help_and_is_in_the_readme():
    root = typer.main.get_command(app)
    found = list(_commands(root))
    assert len(found) >= 6
    for path, command in found:
        assert (command.help or "").strip(), f"{path} has no help text"
        assert f"`{path}" in README, f"{path} is not documented in README.md"
