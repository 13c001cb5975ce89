"""The web chat page in headless Chromium: ask, read the streamed answer, follow a source, rate."""

from __future__ import annotations

import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from test_serve_api import seed

from understudy.serve import create_app
from understudy.serve.auth import create_token

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is not installed: run 'make browser'")


@pytest.fixture
def server(workspace):
    with serving(workspace) as running:
        yield running


@contextmanager
def serving(workspace):
    """The app under a real uvicorn on 127.0.0.1 (a free port), stopped afterwards."""
    seed(workspace)
    _, token = create_token(workspace.store, "browser")
    app = create_app(workspace, slack=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180  # the first start exports the ONNX query encoder
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", token, workspace
    uv.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_ask_a_question_and_read_the_answer_with_sources(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token, ws = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.fill("#token", token)
            page.dispatch_event("#token", "change")
            page.fill("#question", "The password reset email does not arrive at all")
            page.click("#send")
            source = page.locator(".turn a.source").first
            source.wait_for(timeout=30_000)
            answer = page.locator(".turn .answer").first.inner_text()
            reset = ws.store.find_thread("gitlab", "acme/app#1")
            assert "allow that sender" in answer
            assert source.get_attribute("href") == reset.url
            assert source.inner_text() == reset.title
            inline = page.locator(".turn .answer a").first
            assert inline.get_attribute("href") == reset.url
            page.click(".turn button.feedback[data-rating='up']")
            page.get_by_text("Thanks for the feedback.").wait_for(timeout=10_000)
            shot = Path(os.environ.get("UNDERSTUDY_SCREENSHOT", tmp_path / "page.png"))
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    drafts = ws.store.drafts()
    assert len(drafts) == 1 and drafts[0].text.splitlines()[0] in answer
    assert f"Source: {reset.title}" in answer  # the markdown link is shown as a link
    assert [f["rating"] for f in ws.store.feedback(drafts[0].id)] == ["up"]


def test_page_shows_the_error_for_a_bad_token(server):
    from playwright.sync_api import sync_playwright

    url, _, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.fill("#token", "us_wrong")
            page.fill("#question", "Anything")
            page.click("#send")
            error = page.locator(".turn .answer.error")
            error.wait_for(timeout=30_000)
            assert "understudy serve token create" in error.inner_text()
        finally:
            browser.close()


def test_a_source_without_a_link_is_shown_as_text(workspace):
    from playwright.sync_api import sync_playwright

    from understudy.records import Passage

    workspace.store.upsert_passage(Passage(
        "docs", "guide/invoices.md", "Invoice numbering",
        "Invoice numbers restart each year when numbering.yearly is true in settings.yml; "
        "set it to false to keep one sequence across years."))
    with serving(workspace) as (url, token, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            icon = page.goto(url + "/favicon.ico")
            assert icon.status == 200 and "svg" in icon.headers["content-type"]
            page.goto(url + "/")
            page.fill("#token", token)
            page.dispatch_event("#token", "change")
            page.fill("#question", "Why do invoice numbers restart every year?")
            page.click("#send")
            page.locator(".turn ol.sources li").first.wait_for(timeout=30_000)
            items = page.locator(".turn ol.sources li")
            texts = [items.nth(i).inner_text() for i in range(items.count())]
            links = [a.get_attribute("href") for a in page.locator(".turn ol.sources a").all()]
        finally:
            browser.close()
    assert "Invoice numbering" in texts
    assert all(link.startswith("https://") for link in links)  # none back to this page
    assert not any(link.startswith(url) for link in links)
