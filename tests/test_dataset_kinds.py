"""`dataset build --kind` speaks of kinds as the README does; splits follow the share asked."""

from __future__ import annotations

import json

import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app
from understudy.datasets import BuildOptions, build
from understudy.datasets.split import assign_splits
from understudy.records import Example
from understudy.store.training import examples

SHORT_ANSWER = "Set http.timeout to 120 and retry."  # 34 characters, a whole answer


@pytest.fixture
def answered(workspace):
    for number in range(1, 5):
        workspace.store.upsert_thread(make_thread(
            number, f"Login times out (case {number})", "The login page hangs behind a proxy.",
            [("maria", SHORT_ANSWER, True), ("maria", "Closing this, thanks.", True)]))
    return workspace


def _build(*args: str) -> dict:
    result = CliRunner().invoke(app, ["dataset", "build", *args, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_kinds_are_singular_and_the_plurals_still_work(answered):
    assert _build("--kind", "reply")["by_kind"] == {"reply/train": 3, "reply/valid": 1}
    assert _build("--kind", "replies")["by_kind"] == {"reply/train": 3, "reply/valid": 1}
    assert _build("--kind", "edit")["examples"] == 0
    bad = CliRunner().invoke(app, ["dataset", "build", "--kind", "answers"])
    assert bad.exit_code == 2
    assert "use one of reply, edit, synthetic, code" in bad.output


def test_a_short_real_answer_is_kept_by_default(answered):
    report = build(answered, BuildOptions(kinds=["reply"]))
    assert report.total == 4
    assert {e.completion for e in examples(answered.store)} == {SHORT_ANSWER}
    assert report.skipped["procedural"] == 4  # the closing notes, whatever their length
    assert build(answered, BuildOptions(kinds=["reply"], min_chars=40)).skipped["too short"] == 4


def _code(files: dict[str, int]) -> list[Example]:
    return [Example("code", [], "note", source={"group": f"file:code:{path}"})
            for path, count in files.items() for _ in range(count)]


def test_code_examples_follow_the_share_even_with_a_few_big_files():
    files = {"requests/models.py": 61, "requests/sessions.py": 44, "requests/utils.py": 58,
             "requests/adapters.py": 27, **{f"requests/small_{n}.py": 3 + n % 5 for n in range(40)}}
    made = _code(files)
    for share in (0.1, 0.2, 0.3):
        assign_splits(made, share)
        held = sum(e.split == "valid" for e in made) / len(made)
        assert abs(held - share) < 0.02, (share, held)
        by_file: dict[str, set[str]] = {}
        for example in made:
            by_file.setdefault(example.source["group"], set()).add(example.split)
        assert all(len(sides) == 1 for sides in by_file.values())


def test_each_family_follows_the_share_on_its_own():
    threads = [Example("reply", [], "x", thread_id=n, source={"thread": f"gitlab:t{n}"})
               for n in range(100)]
    made = threads + _code({f"f{n}.py": 10 for n in range(20)})
    assign_splits(made, 0.2)
    for kind in ("reply", "code"):
        mine = [e for e in made if e.kind == kind]
        assert abs(sum(e.split == "valid" for e in mine) / len(mine) - 0.2) < 0.03
    first = [e.split for e in made]
    assign_splits(made, 0.2)
    assert [e.split for e in made] == first
