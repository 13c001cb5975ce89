"""The docs source: folders of Markdown, reStructuredText, HTML and text pages as passages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from ..errors import InputError, SourceError
from ..records import Passage
from .base import Source
from .docs_formats import Section, html_sections, rst_sections, text_sections

MAX_WORDS = 300  # about what the embedding model reads (256 word pieces) with some context
SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".rest", ".html", ".htm")
GIT_TIMEOUT = 300
TRAIL = " > "

_md = MarkdownIt("commonmark")


def slugify(heading: str) -> str:
    """The anchor GitLab and GitHub give a heading: lowercase, punctuation dropped, dashes."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", slug)


@dataclass
class _Section:
    trail: list[str]
    anchor: str
    blocks: list[str]  # markdown of each top-level block, in order


def _sections(text: str) -> list[_Section]:
    """Top-level blocks grouped under the heading they follow."""
    lines = text.splitlines()
    tokens = _md.parse(text)
    sections = [_Section([], "", [])]  # text before the first heading
    stack: list[tuple[int, str]] = []
    anchors: dict[str, int] = {}
    for position, token in enumerate(tokens):
        if token.level != 0 or token.map is None or token.type.endswith("_close"):
            continue
        if token.type == "heading_open":
            inline = tokens[position + 1]
            name = "".join(c.content for c in inline.children or []).strip() or inline.content
            depth = int(token.tag[1:])
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, name))
            slug = slugify(name)
            seen = anchors.get(slug, 0)
            anchors[slug] = seen + 1
            anchor = f"{slug}-{seen}" if seen else slug
            sections.append(_Section([n for _, n in stack], anchor, []))
            continue
        start, end = token.map
        block = "\n".join(lines[start:end]).strip()
        if block:
            sections[-1].blocks.append(block)
    return [s for s in sections if s.blocks]


def _words(text: str) -> int:
    return len(text.split())


def _split_block(block: str, max_words: int) -> list[str]:
    """A block longer than the bound, cut between lines (a single long line stays whole)."""
    parts: list[str] = []
    current: list[str] = []
    for line in block.splitlines():
        if current and _words("\n".join(current + [line])) > max_words:
            parts.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        parts.append("\n".join(current))
    return parts


def _chunks(blocks: list[str], max_words: int) -> list[str]:
    """Blocks packed into chunks of at most `max_words` words, cut at block boundaries."""
    pieces = [p for b in blocks for p in (_split_block(b, max_words)
                                          if _words(b) > max_words else [b])]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        words = _words(piece)
        if current and size + words > max_words:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += words
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def split_markdown(
    text: str, path: str, url: str = "", max_words: int = MAX_WORDS, source: str = "docs"
) -> list[Passage]:
    """Passages of one markdown page: one per section, long sections cut at paragraphs.

    Each passage's heading is its trail ("Install > Docker > Volumes") and its url is the
    page's `url` (or `path` when empty) with the section's anchor.
    """
    return _passages(_sections(text), path, url, max_words, source)


def split_page(
    text: str, path: str, url: str = "", max_words: int = MAX_WORDS, source: str = "docs"
) -> list[Passage]:
    """Passages of one page of any supported kind, chosen by the suffix of `path`."""
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return split_markdown(text, path, url, max_words, source)
    parse: Callable[[str], list[Section]] = {
        ".rst": rst_sections, ".rest": rst_sections, ".html": html_sections,
        ".htm": html_sections,
    }.get(suffix, text_sections)
    sections = [_Section(trail, anchor, blocks) for trail, anchor, blocks in parse(text)]
    return _passages(sections, path, url, max_words, source)


def _passages(
    sections: list[_Section], path: str, url: str, max_words: int, source: str
) -> list[Passage]:
    page = url or path
    stem = Path(path).stem
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for section in sections:
        trail = TRAIL.join(section.trail) or stem
        link = f"{page}#{section.anchor}" if section.anchor else page
        for chunk in _chunks(section.blocks, max_words):
            # (source, path, heading) is a passage's key, so a repeated trail gets a number.
            count = seen.get(trail, 0) + 1
            seen[trail] = count
            heading = trail if count == 1 else f"{trail} ({count})"
            passages.append(Passage(source, path, heading, chunk, link))
    return passages


def published_path(inside: str) -> str:
    """Where a page lands on the published site: Sphinx turns page.rst into page.html."""
    if inside.lower().endswith((".rst", ".rest")):
        return inside.rsplit(".", 1)[0] + ".html"
    return inside


class DocsSource(Source):
    """Markdown, reStructuredText, HTML and text pages under a folder (or one file)."""

    name = "docs"

    def __init__(self, settings: Any, store: Any):
        super().__init__(settings, store)
        self.removed = 0

    def fetch(
        self,
        path: str | Path = "",
        base_url: str = "",
        max_words: int = MAX_WORDS,
        prune: bool = True,
        **_: Any,
    ) -> Iterator[Passage]:
        """Yield the passages of every page; then drop stored passages of pages now gone.

        A passage's path is the folder's name and the page's path inside it
        ("docs/install.md"), so two folders synced into one workspace do not collide.
        `path` may also be a git URL (a repository, or a folder of one in the
        https://HOST/OWNER/REPO/tree/BRANCH/FOLDER form): it is cloned into the workspace.
        """
        prefix = ""
        if is_git_url(str(path)):
            checkout = self._checkout(str(path))
            path, prefix = checkout.folder, checkout.name
            base_url = base_url or checkout.base_url
        root = Path(path).expanduser() if path else None
        if root is None or not root.exists():
            raise InputError(f"No docs folder at '{path}': give the folder of your pages "
                             "(.md, .rst, .html, .txt) or a git URL")
        files = [root] if root.is_file() else _pages(root)
        prefix = prefix or root.name
        kept: set[tuple[str, str]] = set()
        kept_paths: set[str] = set()
        for file in files:
            inside = file.name if file == root else file.relative_to(root).as_posix()
            key = inside if file == root else f"{prefix}/{inside}"
            page = f"{base_url.rstrip('/')}/{published_path(inside)}" if base_url else ""
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.skipped += 1
                self.problems.append(f"{file}: skipped, not UTF-8 text ({type(exc).__name__})")
                kept_paths.add(key)  # an unreadable page keeps what was stored before
                continue
            for passage in split_page(text, key, page, max_words, self.name):
                kept.add((passage.path, passage.heading))
                yield passage
        if prune:
            self.removed = self.prune(prefix if root.is_dir() else root.name, kept, kept_paths)

    def _checkout(self, url: str) -> Checkout:
        """A shallow clone of the repository `url` names, fresh in the workspace each sync."""
        found = parse_git_url(url)
        target = self.settings.path.parent / "checkouts" / re.sub(r"[^\w.-]+", "_", found.repo)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        command = ["git", "clone", "--quiet", "--depth", "1"]
        if found.branch:
            command += ["--branch", found.branch]
        try:
            subprocess.run([*command, found.repo, str(target)], check=True, capture_output=True,
                           text=True, timeout=GIT_TIMEOUT, env=_git_env())
        except FileNotFoundError:
            raise SourceError("git is not installed: install it, or clone the repository and "
                              "give its folder") from None
        except subprocess.TimeoutExpired:
            raise SourceError(f"Cloning {found.repo} took over {GIT_TIMEOUT}s: clone it "
                              "yourself and give the folder") from None
        except subprocess.CalledProcessError as exc:
            lines = (exc.stderr or "").strip().splitlines()
            fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal:")]
            detail = (fatal or lines or ["git clone failed"])[0].rstrip(".")
            raise SourceError(f"Cannot clone {found.repo} ({detail}): check the URL and your "
                              "access to it") from None
        folder = target / found.folder if found.folder else target
        name = Path(found.repo.rstrip("/")).name.removesuffix(".git") or "docs"
        if found.folder:
            name = f"{name}/{found.folder.strip('/')}"
        return Checkout(folder, name, found.base_url)

    def prune(self, scope: str, kept: set[tuple[str, str]], kept_paths: set[str]) -> int:
        """Delete stored passages under `scope` that this sync did not produce."""
        stale = [
            p.id
            for p in self.store.passages(self.name)
            if (p.path == scope or p.path.startswith(scope + "/"))
            and (p.path, p.heading) not in kept
            and p.path not in kept_paths
            and p.id is not None
        ]
        return self.store.delete_passage_ids(stale)


@dataclass
class GitURL:
    """What a docs URL names: the repository to clone, a branch, a folder, the pages' site."""

    repo: str
    branch: str = ""
    folder: str = ""
    base_url: str = ""  # where the pages are shown on the forge, for passage links


@dataclass
class Checkout:
    folder: Path
    name: str
    base_url: str


_TREE = re.compile(r"^(?P<repo>https?://[^/]+/.+?)(?:/-)?/tree/(?P<branch>[^/]+)(?:/(?P<folder>.*))?$")


def is_git_url(value: str) -> bool:
    """Whether a docs path is a git URL rather than a folder on this machine."""
    return value.startswith(("http://", "https://", "git@", "ssh://", "git://", "file://")) or (
        value.endswith(".git") and not Path(value).expanduser().exists())


def parse_git_url(url: str) -> GitURL:
    """The repository, branch and folder of a git URL; forge 'tree' URLs name all three."""
    url = url.strip().rstrip("/")
    found = _TREE.match(url)
    if found:
        repo, branch, folder = found["repo"], found["branch"], (found["folder"] or "").strip("/")
        blob = "/-/blob/" if "/-/tree/" in url else "/blob/"
        base = f"{repo}{blob}{branch}" + (f"/{folder}" if folder else "")
        return GitURL(repo, branch, folder, base)
    if url.startswith(("http://", "https://")) and not url.endswith(".git"):
        return GitURL(url, base_url="")
    return GitURL(url)


def _git_env() -> dict[str, str]:
    # Never wait for a password prompt: a private repository fails with a clear line instead.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def _pages(root: Path) -> list[Path]:
    """Pages under `root` in a stable order, skipping hidden files and folders."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
