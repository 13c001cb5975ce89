"""The library surface: `understudy` exports its public API, and one list holds every setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import understudy
from understudy.config import SECRET_ENV, Settings
from understudy.settings import BY_KEY, SETTINGS, readme_tables

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(r"""(?:settings\.(?:get|set)|self\.setting)\(\s*["']([a-z_]+)["']""")


def test_every_public_name_imports_and_is_what_it_says():
    for name in understudy.__all__:
        assert getattr(understudy, name) is not None, name
    assert issubclass(understudy.NotFoundError, understudy.UnderstudyError)
    thread = understudy.Thread(source="file", external_id="t1", url="", title="A question")
    assert thread.title == "A question"
    for base in ("Source", "Backend", "Destination", "Trainer"):
        assert getattr(understudy, base).__abstractmethods__, base
    assert set(dir(understudy)) >= {"Workspace", "Answerer", "Draft", "SETTINGS"}


def test_importing_the_package_loads_no_model_library():
    code = ("import sys, understudy\nfrom understudy import Workspace, Draft, UnderstudyError\n"
            "print(*[m for m in ('torch', 'sentence_transformers', 'transformers', 'fastapi',"
            " 'onnxruntime', 'sklearn', 'matplotlib', 'bm25s') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_readme_tables_are_the_ones_the_settings_list_makes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section, table in readme_tables().items():
        found = re.search(rf"<!-- settings:{section} -->\n(.*?)\n<!-- /settings:{section} -->",
                          readme, re.S)
        assert found, f"README.md has no settings:{section} table"
        assert found[1] == table, f"run 'python -m understudy.settings' and paste {section}"


def test_every_key_the_code_reads_is_listed():
    read = set()
    for path in (ROOT / "src" / "understudy").rglob("*.py"):
        read |= set(READ.findall(path.read_text(encoding="utf-8")))
    secrets = set(SECRET_ENV)
    assert read - secrets - set(BY_KEY) == set()
    assert len(read) >= 20  # the scan sees the code's reads, not nothing


def test_a_fresh_workspace_reads_every_default(home):
    settings = Settings.load(home)
    assert settings.get("allowed_quick_actions") == []
    assert settings.get("mask_for_local_models") is True
    assert {s.key for s in SETTINGS} <= set(settings.values)
    settings.get("team").append("someone")  # a caller changing a list changes no other
    assert Settings.load(home).get("team") == []
    settings.set("prompt_budget", 4000)
    assert Settings.load(home).get("prompt_budget") == 4000
    assert (home / "settings.json").read_text().count(":") == 2  # "team" and the budget


def test_all_lists_exactly_the_names_the_package_can_load():
    from understudy import _WHERE

    assert set(understudy.__all__) == {"__version__", *_WHERE}
