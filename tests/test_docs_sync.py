"""`sync docs` on folders of Markdown, reStructuredText, HTML, text and gzipped pages, on git URLs,
and on links that lead out of the folder."""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import pytest
from factories import run_cli
from typer.testing import CliRunner

from understudy.cli import app
from understudy.sources import docs as docs_module
from understudy.sources import sync
from understudy.sources.docs import GitURL, parse_git_url, split_page

GUIDE_RST = """==========
 Handbook
==========

Welcome to the handbook.

Install
=======

Run the installer::

    Not a title
    ===========

Behind a proxy
--------------

Set HTTPS_PROXY before running the installer.

Upgrading
=========

Take a backup with ``tally backup`` first.
"""

SITE_HTML = """<!doctype html><html><head><title>Tallybook</title>
<style>body { color: red }</style><script>track()</script></head><body>
<nav role="navigation"><ul><li>Home<li>Docs</ul></nav>
<main>
<section id="sso"><h1>Single sign-on<a class="headerlink" href="#sso">¶</a></h1>
<p>Tallybook speaks   SAML and
OIDC.</p>
<section id="okta"><h2>Okta</h2>
<p>Create an app integration &amp; paste the metadata URL.</p>
<pre>tally sso set --provider okta
  --metadata https://example.okta.com/app/metadata</pre>
</section></section>
</main>
<footer>Copyright Tallybook</footer></body></html>
"""

INDEX_MD = """# Welcome

Start here.

## Support

### Email

Write to the support address.
"""


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "handbook"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "setup.rst").write_text(GUIDE_RST)
    (root / "site").mkdir()
    (root / "site" / "sso.html").write_text(SITE_HTML)
    (root / "index.md").write_text(INDEX_MD)
    (root / "notes.txt").write_text("First paragraph.\n\nSecond paragraph.\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    return root


def passages(ws) -> dict[tuple[str, str], object]:
    return {(p.path, p.heading): p for p in ws.store.passages("docs")}


def test_every_kind_of_page_is_split_by_heading_with_links(docs, ws):
    report = sync(ws, "docs", path=str(docs), base_url="https://docs.example.com/", min_chars=0)
    found = passages(ws)

    assert set(found) == {
        ("handbook/guide/setup.rst", "Handbook"),
        ("handbook/guide/setup.rst", "Handbook > Install"),
        ("handbook/guide/setup.rst", "Handbook > Install > Behind a proxy"),
        ("handbook/guide/setup.rst", "Handbook > Upgrading"),
        ("handbook/site/sso.html", "Single sign-on"),
        ("handbook/site/sso.html", "Single sign-on > Okta"),
        ("handbook/index.md", "Welcome"),
        ("handbook/index.md", "Welcome > Support > Email"),
        ("handbook/notes.txt", "notes"),
    }
    assert report.new == len(found)
    proxy = found[("handbook/guide/setup.rst", "Handbook > Install > Behind a proxy")]
    assert proxy.url == "https://docs.example.com/guide/setup.html#behind-a-proxy"  # Sphinx page
    install = found[("handbook/guide/setup.rst", "Handbook > Install")]
    assert "```\nNot a title\n===========\n```" in install.text  # a literal block, no heading
    assert found[("handbook/index.md", "Welcome")].url == "https://docs.example.com/index.html#welcome"
    okta = found[("handbook/site/sso.html", "Single sign-on > Okta")]
    assert okta.url == "https://docs.example.com/site/sso.html#okta"
    assert okta.text.startswith("Create an app integration & paste the metadata URL.")
    assert "tally sso set --provider okta\n  --metadata" in okta.text  # <pre> keeps its lines
    sso = found[("handbook/site/sso.html", "Single sign-on")]
    assert sso.text == "Tallybook speaks SAML and OIDC."
    everything = " ".join(p.text for p in found.values())
    for noise in ("track()", "color: red", "Copyright", "Home"):
        assert noise not in everything
    assert found[("handbook/notes.txt", "notes")].text == "First paragraph.\n\nSecond paragraph."


def test_resync_is_incremental_and_deleted_pages_leave_the_index(docs, ws):
    sync(ws, "docs", path=str(docs), min_chars=0)
    count = len(passages(ws))
    again = sync(ws, "docs", path=str(docs), min_chars=0)
    assert (again.new, again.updated, again.unchanged, again.removed) == (0, 0, count, 0)

    (docs / "site" / "sso.html").unlink()
    (docs / "guide" / "setup.rst").write_text(GUIDE_RST.replace(
        "Set HTTPS_PROXY", "Set HTTPS_PROXY and NO_PROXY"))
    third = sync(ws, "docs", path=str(docs), min_chars=0)
    assert (third.updated, third.removed) == (1, 2)
    assert not any(path.endswith("sso.html") for path, _ in passages(ws))

    ws.index.build()
    hits = ws.index.search("How do I set up Okta single sign-on?", k=5)
    assert all("sso.html" not in hit.item.key for hit in hits)  # no stale passage answers


def test_passages_are_retrieved_next_to_threads(docs, workspace):
    sync(workspace, "docs", path=str(docs))
    workspace.index.build()
    hits = workspace.index.search("installer behind a corporate proxy", k=3)
    assert hits[0].item.kind == "passage"
    assert "HTTPS_PROXY" in hits[0].item.answer or "HTTPS_PROXY" in hits[0].item.search_text


def test_long_sections_respect_the_word_bound():
    long_rst = "Guide\n=====\n\n" + "\n\n".join(f"Paragraph {n} " + "word " * 60
                                                for n in range(10))
    found = split_page(long_rst, "docs/long.rst", max_words=150)
    assert len(found) > 3
    assert all(len(p.text.split()) <= 150 for p in found)
    assert [p.heading for p in found[:2]] == ["Guide", "Guide (2)"]


def test_sync_from_a_git_url(docs, tmp_path, ws):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "docs").mkdir()
    (repo / "docs" / "index.md").write_text(INDEX_MD)
    (repo / "README.md").write_text("# Readme\n\nNot in the docs folder.\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "docs"], check=True)

    report = sync(ws, "docs", path=f"file://{repo}", min_chars=0)
    assert report.new == 3
    assert {p.path for p in ws.store.passages("docs")} == {"repo/docs/index.md", "repo/README.md"}

    tree = parse_git_url("https://github.com/acme/app/tree/main/docs/guide")
    assert (tree.repo, tree.branch, tree.folder) == ("https://github.com/acme/app", "main",
                                                     "docs/guide")
    assert tree.base_url == "https://github.com/acme/app/blob/main/docs/guide"
    lab = parse_git_url("https://gitlab.com/g/p/-/tree/v2/docs")
    assert (lab.repo, lab.base_url) == ("https://gitlab.com/g/p",
                                        "https://gitlab.com/g/p/-/blob/v2/docs")


def test_cli_sync_docs(docs, tmp_path, monkeypatch):
    result = CliRunner().invoke(app, ["sync", "docs", str(docs), "--json", "--min-chars", "0"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["new"] == 9
    assert json.loads(result.stdout)["skipped_reasons"] == {"not a page": 1}

    code, _, err = run_cli(monkeypatch, "sync", "docs", str(tmp_path / "nowhere"))
    assert code == 1 and err.strip().splitlines() == [
        f"Error: No docs folder at '{tmp_path / 'nowhere'}': give the folder of your pages "
        "(.md, .rst, .html, .txt, or gzipped) or a git URL"]
    code, _, err = run_cli(monkeypatch, "sync", "docs", f"file://{tmp_path}/no-repo")
    assert code == 1 and err.strip().startswith(f"Error: Cannot clone file://{tmp_path}/no-repo")
    assert "check the URL" in err and len(err.strip().splitlines()) == 1


def test_gzipped_pages_are_read_and_linked_as_html(tmp_path, ws):
    root = tmp_path / "pip"
    (root / "cli").mkdir(parents=True)
    (root / "cli" / "pip_install.rst.gz").write_bytes(gzip.compress(GUIDE_RST.encode()))
    (root / "topics").mkdir()
    (root / "topics" / "caching.md.gz").write_bytes(gzip.compress(INDEX_MD.encode()))
    (root / "conf.py.gz").write_bytes(gzip.compress(b"project = 'pip'\n"))
    (root / "broken.md.gz").write_bytes(b"not gzip at all")
    report = sync(ws, "docs", path=str(root), base_url="https://pip.example/en/stable",
                  min_chars=0)
    found = passages(ws)
    proxy = found[("pip/cli/pip_install.rst.gz", "Handbook > Install > Behind a proxy")]
    assert proxy.url == "https://pip.example/en/stable/cli/pip_install.html#behind-a-proxy"
    assert proxy.text == "Set HTTPS_PROXY before running the installer."
    assert found[("pip/topics/caching.md.gz", "Welcome > Support > Email")].url == (
        "https://pip.example/en/stable/topics/caching.html#email")
    assert report.skipped_reasons == {"not a page": 1, "not a valid gzip file": 1}
    assert report.problems == ["broken.md.gz: skipped, not a valid gzip file"]

    sync(ws, "docs", path=str(root), base_url="https://pip.example/", url_suffix="/")
    assert any(p.url.startswith("https://pip.example/cli/pip_install/#")
               for p in ws.store.passages("docs"))


@pytest.fixture
def secret(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "hostname"
    target.write_text("# Host\n\nsecret-host-name-only-on-this-machine\n")
    return target


def test_links_out_of_the_folder_are_skipped_and_reported(docs, secret, ws, capsys):
    (docs / "leak.md").symlink_to(secret)
    (docs / "etc").symlink_to(secret.parent, target_is_directory=True)
    (docs / "alias.md").symlink_to(docs / "index.md")  # inside the folder: read
    (docs / "guide" / "loop").symlink_to(docs, target_is_directory=True)  # read once
    (docs / "dangling.md").symlink_to(docs / "gone.md")
    os.mkfifo(docs / "pipe.md")  # reading it would wait forever

    report = sync(ws, "docs", path=str(docs), min_chars=0)
    stored = passages(ws)
    everything = " ".join(p.text for p in stored.values())
    assert "secret-host-name" not in everything
    assert not any("leak" in path or "etc/" in path for path, _ in stored)
    assert ("handbook/alias.md", "Welcome") in stored
    assert not any("/loop/" in path for path, _ in stored)
    assert report.skipped_reasons == {"broken link": 1, "link outside the folder": 2,
                                      "not a page": 1, "not a regular file": 1}
    assert sorted(report.problems) == [
        "dangling.md: skipped, broken link",
        "etc: skipped, a link to outside the folder, not read",
        "leak.md: skipped, a link to outside the folder, not read",
        "pipe.md: skipped, not a regular file",
    ]
    assert str(secret) not in " ".join(report.problems)  # the target is not named


def test_a_page_that_becomes_a_link_out_loses_its_passages(docs, secret, ws):
    (docs / "leak.md").write_text("# Leak\n\nBefore it was a link.\n")
    sync(ws, "docs", path=str(docs))
    assert any(path == "handbook/leak.md" for path, _ in passages(ws))
    (docs / "leak.md").unlink()
    (docs / "leak.md").symlink_to(secret)
    report = sync(ws, "docs", path=str(docs))
    assert report.removed >= 1
    assert not any(path == "handbook/leak.md" for path, _ in passages(ws))


def _commit(repo, *paths):
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", *paths], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "docs"], check=True)


def test_links_out_of_a_cloned_repository_are_skipped(tmp_path, secret, ws, monkeypatch):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "docs").mkdir()
    (repo / "docs" / "index.md").write_text(INDEX_MD)
    (repo / "docs" / "leak.md").symlink_to(secret)
    (repo / "outside").symlink_to(secret.parent, target_is_directory=True)
    _commit(repo, ".")

    report = sync(ws, "docs", path=f"file://{repo}")
    assert report.skipped_reasons["link outside the folder"] == 2
    assert "secret-host-name" not in " ".join(p.text for p in ws.store.passages("docs"))

    # A folder of the repository that is itself a link out (or `..`) is refused.
    monkeypatch.setattr(docs_module, "parse_git_url",
                        lambda url: GitURL(f"file://{repo}", folder="outside"))
    code, _, err = run_cli(monkeypatch, "sync", "docs", "https://forge.example/o/r/tree/main/x")
    assert code == 1 and err.strip() == (
        f"Error: The folder 'outside' leads out of the repository file://{repo}: give a "
        "folder inside it")


def test_cli_shows_what_was_skipped_and_why(docs, secret, monkeypatch):
    (docs / "leak.md").symlink_to(secret)
    code, out, _ = run_cli(monkeypatch, "sync", "docs", str(docs))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("docs: ") and "2 skipped" in lines[0]
    assert lines[1].strip() == "skipped: 1 link outside the folder, 1 not a page"
    assert lines[2].strip() == "leak.md: skipped, a link to outside the folder, not read"
