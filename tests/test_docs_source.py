"""The docs source: heading trails, the word bound, anchors, and pages that go away."""

from __future__ import annotations

import pytest

from understudy.demo import SAMPLE_DIR
from understudy.errors import InputError
from understudy.sources import sync
from understudy.sources.docs import MAX_WORDS, DocsSource, slugify, split_markdown
from understudy.workspace import Workspace

PAGE = """Intro before any heading.

# Install

Tallybook runs as one web process.

## Docker

Pull the image.

```bash
# this line is code, not a heading
docker pull tallybook/server
```

### Volumes

Everything lives under `/data`.

## From packages

Use the .deb.

# Upgrading

Take a backup first.
"""


def by_heading(passages):
    return {p.heading: p for p in passages}


def test_heading_trails_follow_nesting():
    passages = by_heading(split_markdown(PAGE, "docs/install.md"))
    assert list(passages) == [
        "install", "Install", "Install > Docker", "Install > Docker > Volumes",
        "Install > From packages", "Upgrading",
    ]
    assert "# this line is code" in passages["Install > Docker"].text
    assert passages["Install > Docker > Volumes"].text == "Everything lives under `/data`."
    assert all(p.source == "docs" and p.path == "docs/install.md" for p in passages.values())


def test_anchors_and_urls():
    page = "# Setup\n\nA.\n\n## Email (SMTP)\n\nB.\n\n## Email (SMTP)\n\nC.\n"
    passages = split_markdown(page, "guide.md", "https://docs.example.com/guide.md")
    assert [p.url for p in passages] == [
        "https://docs.example.com/guide.md#setup",
        "https://docs.example.com/guide.md#email-smtp",
        "https://docs.example.com/guide.md#email-smtp-1",
    ]
    # The same trail twice still gives two passages with distinct keys.
    assert [p.heading for p in passages] == ["Setup", "Setup > Email (SMTP)",
                                             "Setup > Email (SMTP) (2)"]
    assert split_markdown("Just text.", "notes.txt")[0].url == "notes.txt"
    assert slugify("Self-signed and internal certificates") == (
        "self-signed-and-internal-certificates")


def test_long_sections_are_cut_at_paragraphs():
    paragraphs = [" ".join(f"w{i}x{j}" for j in range(70)) for i in range(10)]
    page = "# Long\n\n" + "\n\n".join(paragraphs) + "\n"
    passages = split_markdown(page, "long.md", max_words=150)
    assert len(passages) == 5
    assert all(len(p.text.split()) <= 150 for p in passages)
    assert [p.heading for p in passages][:2] == ["Long", "Long (2)"]
    # No paragraph is torn: the chunks are whole paragraphs, in order.
    assert [q for p in passages for q in p.text.split("\n\n")] == paragraphs
    assert all(p.url == "long.md#long" for p in passages)


def test_a_block_over_the_bound_is_cut_between_lines():
    code = "\n".join(f"line {i} " + "word " * 9 for i in range(40))
    passages = split_markdown(f"# Log\n\n```\n{code}\n```\n", "log.md", max_words=100)
    assert len(passages) > 1
    assert all(len(p.text.split()) <= 100 for p in passages)


@pytest.fixture
def docs_dir(tmp_path):
    root = tmp_path / "handbook"
    (root / "guides").mkdir(parents=True)
    (root / "index.md").write_text("# Welcome\n\nStart here.\n\n## Support\n\nAsk us.\n")
    (root / "guides" / "sso.markdown").write_text("# SSO\n\nUse OIDC.\n")
    (root / "notes.txt").write_text("Plain notes without headings.\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "draft.md").write_text("# Secret draft\n\nNot published.\n")
    (root / "image.png").write_bytes(b"\x89PNG")
    return root


def keys(ws):
    return {(p.path, p.heading) for p in ws.store.passages("docs")}


def test_sync_walks_a_folder_and_is_idempotent(home, docs_dir):
    ws = Workspace(home)
    report = sync(ws, "docs", path=str(docs_dir), base_url="https://kb.example.com/")
    assert report.new == 4 and not report.problems
    assert keys(ws) == {
        ("handbook/guides/sso.markdown", "SSO"), ("handbook/index.md", "Welcome"),
        ("handbook/index.md", "Welcome > Support"), ("handbook/notes.txt", "notes"),
    }
    urls = {p.url for p in ws.store.passages("docs")}
    assert "https://kb.example.com/guides/sso.markdown#sso" in urls
    again = sync(ws, "docs", path=str(docs_dir), base_url="https://kb.example.com/")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 4)


def test_passages_of_deleted_pages_and_sections_are_removed(home, docs_dir, tmp_path):
    ws = Workspace(home)
    other = tmp_path / "other"
    other.mkdir()
    (other / "faq.md").write_text("# FAQ\n\nQuestions.\n")
    sync(ws, "docs", path=str(other))
    sync(ws, "docs", path=str(docs_dir))
    (docs_dir / "guides" / "sso.markdown").unlink()
    (docs_dir / "index.md").write_text("# Welcome\n\nStart here.\n\n## Help\n\nAsk us.\n")
    source = DocsSource(ws.settings, ws.store)
    for passage in source.fetch(path=str(docs_dir)):
        ws.store.upsert_passage(passage)
    assert source.removed == 2
    assert keys(ws) == {
        ("handbook/index.md", "Welcome"), ("handbook/index.md", "Welcome > Help"),
        ("handbook/notes.txt", "notes"), ("other/faq.md", "FAQ"),  # another folder stays
    }


def test_unreadable_page_is_reported_and_keeps_its_passages(home, docs_dir):
    ws = Workspace(home)
    sync(ws, "docs", path=str(docs_dir))
    (docs_dir / "notes.txt").write_bytes(b"\xff\xfe broken \x81")
    report = sync(ws, "docs", path=str(docs_dir))
    assert report.skipped == 1 and "notes.txt" in report.problems[0]
    assert ("handbook/notes.txt", "notes") in keys(ws)


def test_missing_folder_is_one_clear_error(home, tmp_path):
    with pytest.raises(InputError, match="No docs folder"):
        sync(Workspace(home), "docs", path=str(tmp_path / "nope"))


def test_sample_docs_respect_the_bound_and_have_unique_keys():
    passages = [
        p
        for page in sorted((SAMPLE_DIR / "docs").glob("*.md"))
        for p in split_markdown(page.read_text(), f"docs/{page.name}")
    ]
    assert len(passages) >= 30
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert len({(p.path, p.heading) for p in passages}) == len(passages)
    assert all("#" in p.url for p in passages if " > " in p.heading)
