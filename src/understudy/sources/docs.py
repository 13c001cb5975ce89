"""The docs source: folders of Markdown/MyST, reStructuredText, HTML and text pages as passages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, SourceError
from ..records import Passage
from .base import Source
from .docs_files import PageSkipped, Walk, read_page, walk_pages
from .docs_formats import Section, html_sections, text_sections
from .docs_markdown import markdown_sections, slugify
from .docs_passages import passages_of
from .docs_rst import rst_sections

__all__ = ["DocsSource", "MAX_WORDS", "MIN_CHARS", "published_path", "slugify", "split_markdown",
           "split_page", "parse_git_url", "is_git_url"]

MAX_WORDS = 300  # about what the embedding model reads (256 word pieces) with some context
MIN_CHARS = 80  # a passage shorter than this says too little alone: it joins a neighbour
MAX_PAGE_BYTES = 20 * 1024 * 1024  # also bounds what a gzipped page may unpack to
SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".rest", ".html", ".htm")
SOURCE_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".rest")  # published as HTML
GIT_TIMEOUT = 300
TRAIL = " > "


def page_kind(name: str) -> str:
    """The suffix that says how a page is parsed: `.rst` for `pip_install.rst.gz`."""
    name = name.lower().removesuffix(".gz")
    return Path(name).suffix


def split_markdown(
    text: str, path: str, url: str = "", max_words: int = MAX_WORDS, source: str = "docs",
    min_chars: int = MIN_CHARS,
) -> list[Passage]:
    """Passages of one Markdown (or MyST) page: one per section, long sections cut at blocks.

    Each passage's heading is its trail ("Install > Docker > Volumes") and its url is the
    page's `url` (or `path` when empty) with the section's anchor.
    """
    return passages_of(markdown_sections(text), path, url, max_words, source, min_chars)


def split_page(
    text: str, path: str, url: str = "", max_words: int = MAX_WORDS, source: str = "docs",
    min_chars: int = MIN_CHARS,
) -> list[Passage]:
    """Passages of one page of any supported kind, chosen by the suffix of `path`."""
    parse: Callable[[str], list[Section]] = {
        ".md": markdown_sections, ".markdown": markdown_sections, ".rst": rst_sections,
        ".rest": rst_sections, ".html": html_sections, ".htm": html_sections,
    }.get(page_kind(path), text_sections)
    return passages_of(parse(text), path, url, max_words, source, min_chars)


def published_path(inside: str, suffix: str | None = ".html") -> str:
    """Where a page lands on the published site: Sphinx and MkDocs turn page.md into page.html.

    `suffix` replaces every source suffix (`.rst`, `.md`, `.txt`, `.rst.gz`); None keeps the
    path as it is (a forge shows the source file).
    """
    if suffix is None:
        return inside
    name = inside[:-3] if inside.lower().endswith(".gz") else inside
    if Path(name).suffix.lower() in SOURCE_SUFFIXES:
        return name[: -len(Path(name).suffix)] + suffix
    return name


class DocsSource(Source):
    """Markdown/MyST, reStructuredText, HTML and text pages (gzipped or not) under a folder."""

    name = "docs"

    def __init__(self, settings: Any, store: Any):
        super().__init__(settings, store)
        self.removed = 0
        self.skipped_reasons: dict[str, int] = {}

    def fetch(
        self,
        path: str | Path = "",
        base_url: str = "",
        max_words: int = MAX_WORDS,
        min_chars: int = MIN_CHARS,
        url_suffix: str | None = ".html",
        prune: bool = True,
        **_: Any,
    ) -> Iterator[Passage]:
        """Yield the passages of every page; then drop stored passages of pages now gone.

        A passage's path is the folder's name and the page's path inside it
        ("docs/install.md"), so two folders synced into one workspace do not collide.
        `path` may also be a git URL (a repository, or a folder of one in the
        https://HOST/OWNER/REPO/tree/BRANCH/FOLDER form): it is cloned into the workspace,
        and its links point at the forge's view of each source file.
        Links to anything outside the folder are skipped, never read; `skipped_reasons`
        counts every file left out by reason.
        """
        prefix = ""
        suffix = url_suffix  # None: links keep the source file's name
        if is_git_url(str(path)):
            checkout = self._checkout(str(path))
            path, prefix = checkout.folder, checkout.name
            if not base_url:
                base_url, suffix = checkout.base_url, None
        root = Path(path).expanduser() if path else None
        if root is None or not root.exists():
            raise InputError(f"No docs folder at '{path}': give the folder of your pages "
                             "(.md, .rst, .html, .txt, or gzipped) or a git URL")
        if root.is_file():
            walk = Walk(pages=[(root.resolve(), root.name)])  # a file given by name is read
        else:
            walk = walk_pages(root, lambda name: page_kind(name) in SUFFIXES)
        prefix = prefix or root.name
        kept: set[tuple[str, str]] = set()
        kept_paths: set[str] = set()
        for file, inside in walk.pages:
            key = inside if root.is_file() else f"{prefix}/{inside}"
            page = f"{base_url.rstrip('/')}/{published_path(inside, suffix)}" if base_url else ""
            try:
                text = read_page(file, MAX_PAGE_BYTES)
            except PageSkipped as skipped:
                walk.skip(skipped.reason, inside, skipped.detail)
                kept_paths.add(key)  # an unreadable page keeps what was stored before
                continue
            for passage in split_page(text, key, page, max_words, self.name, min_chars):
                kept.add((passage.path, passage.heading))
                yield passage
        self.skipped_reasons = dict(sorted(walk.reasons.items()))
        self.skipped = sum(walk.reasons.values())
        self.problems.extend(walk.problems)
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
        if not folder.resolve().is_relative_to(target.resolve()):  # `../..` or a link out
            raise InputError(f"The folder '{found.folder}' leads out of the repository "
                             f"{found.repo}: give a folder inside it")
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
