"""The one answering pipeline: a plugin backend gets ranking, masking and abstention; drafts are
one cleaned reply; the judge's calibration can be the workspace's own."""

from __future__ import annotations

import json
import textwrap

import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy import plugins
from understudy.cli import app
from understudy.evidence import clean_for_reader
from understudy.judge import SEMEVAL_DEFAULT, Calibration, Judge, save_calibration
from understudy.records import Message, Thread

runner = CliRunner()

SECRET_REPLY = ("Raise SSO_STATE_TTL to 600 in the config, then sign in again. If it still "
                "fails, try again with token glpat-Ab3dEf6hIj9kLm2nOp5q and key "
                "sk-proj-4fG7hJ2kL9mN3pQ6rS8tU1vW5xY0zA2b, or mail alice.cooper@acme-corp.com.")
SECRETS = ("glpat-Ab3dEf6hIj9kLm2nOp5q", "sk-proj-4fG7hJ2kL9mN3pQ6rS8tU1vW5xY0zA2b",
           "alice.cooper@acme-corp.com")

PLUGIN = '''
"""A third-party backend: it repeats the best evidence it is handed, and keeps what it saw."""
from understudy.backends import Backend, Composition

SEEN = []


class EchoBackend(Backend):
    name = "echo"
    generates = True

    @property
    def model_name(self):
        return "echo-1"

    def compose(self, ticket, evidence):
        SEEN.append([(e.kind, e.text) for e in evidence])
        return Composition("Echo: " + evidence[0].text, used=evidence[:1], model="echo-1")
'''


@pytest.fixture
def echo(tmp_path, monkeypatch):
    """The echo backend installed as a package would be: a dist-info with an entry point."""
    site = tmp_path / "site"
    info = site / "understudy_echo-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: understudy-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[understudy.backends]\necho = understudy_echo:EchoBackend\n")
    (site / "understudy_echo.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(site))
    plugins.registry.cache_clear()
    yield __import__("understudy_echo")
    plugins.registry.cache_clear()


def _knowledge(store) -> dict[str, Thread]:
    sso = make_thread(1, "Login with SSO fails: invalid state",
                      "Okta sign-in ends with an invalid state error after the redirect.",
                      [("customer", "Any news? This blocks our whole team.", False),
                       ("ann", SECRET_REPLY, True),
                       ("ann", "Thanks, closing.", True)])
    export = make_thread(2, "CSV export returns 500",
                         "Exporting the project list to CSV fails with a server error.",
                         [("bob", "Fixed in 2.4.1: upgrade and export again.", True)])
    for thread in (sso, export):
        store.upsert_thread(thread)
    return {t.external_id: t for t in store.threads()}


def test_a_plugin_backend_gets_ranking_masking_and_abstention(workspace, echo):
    _knowledge(workspace.store)
    assert "echo" in plugins.registry("backends")
    answerer = workspace.answerer("echo")
    ticket = Thread("file", "t", "", "SSO sign-in broken",
                    messages=[Message("q", "me", "Okta login ends with an invalid state error.",
                                      "", kind="question",
                                      text="Okta login ends with an invalid state error.")])
    draft = answerer.draft(ticket, save=False)
    # Ranking: the evidence is single replies, best first; the team's answer leads, and
    # neither the customer's follow-up nor a joined thread is among them.
    [seen] = echo.SEEN
    assert all(kind == "reply" for kind, _ in seen)
    assert seen[0][1].startswith("Raise SSO_STATE_TTL")
    assert not any("blocks our whole team" in text for _, text in seen)
    # Masking: no secret of the past reply reaches the backend or the draft.
    for secret in SECRETS:
        assert not any(secret in text for _, text in seen)
        assert secret not in draft.text
    assert "[REDACTED:" in seen[0][1]
    assert draft.backend == "echo" and draft.model == "echo-1" and not draft.abstained
    assert draft.confidence >= answerer.threshold
    assert [s.kind for s in draft.sources] == ["reply"]
    # Abstention: an unrelated ticket never reaches the backend.
    off = Thread("file", "u", "", "Quantum flux capacitor tuning",
                 messages=[Message("q", "me", "How do I tune the flux capacitor?", "",
                                   kind="question", text="How do I tune the flux capacitor?")])
    refused = answerer.draft(off, save=False)
    assert refused.abstained and refused.confidence < answerer.threshold
    assert len(echo.SEEN) == 1
    assert "no model was asked" in refused.text


@pytest.mark.parametrize(("raw", "clean"), [
    ("@AppleSupport @jane_doe Hi there", "Hi there"),
    ("@105836 Have you tried from another device? ^MM", "Have you tried from another device?"),
    ("@105835 Please DM us your zip code. ^RR https://t.co/znUu1VJn9r",
     "Please DM us your zip code. https://t.co/znUu1VJn9r"),
    ("Open Settings &gt; Privacy &amp; Security, then retry. /CP",
     "Open Settings > Privacy & Security, then retry."),
    ("@sam_k Update to iOS 17.2 and restart -JD", "Update to iOS 17.2 and restart"),
    ("Hi @sam_k, send a DM to @AcmeHelp or mail help@acme.example.",
     "Hi, send a DM to @AcmeHelp or mail help@acme.example."),
    ("@bob Decorate it:\n```python\n@app.route(\"/\")\n```\nand keep `@cache` &amp; x^2.",
     "Decorate it:\n```python\n@app.route(\"/\")\n```\nand keep `@cache` & x^2."),
])
def test_a_past_reply_is_cleaned_for_a_new_reader(raw, clean):
    assert clean_for_reader(raw, own="AcmeHelp") == clean


@pytest.mark.parametrize(("raw", "clean"), [
    ("Hi Sam, restart the runner.", "Hi, restart the runner."),
    ("Thanks Maria Lopez! Glad it works now.", "Thanks! Glad it works now."),
    ("Dear John: the fix is in 2.3.", "Hello: the fix is in 2.3."),
    ("Hello Sam\n\nWe can help Sam with Sam's account.",
     "Hello\n\nWe can help you with your account."),
    ("Good morning Anna. Update to 2.3.", "Good morning. Update to 2.3."),
    # Not names: a greeting to everyone, a word after "thanks", code, an e-mail address.
    ("Hi there, thanks much! Run `Sam.restart()` or mail sam@acme.example.",
     "Hi there, thanks much! Run `Sam.restart()` or mail sam@acme.example."),
])
def test_a_past_customers_name_never_reaches_the_next_one(raw, clean):
    assert clean_for_reader(raw, own="AcmeHelp", names=("Sam", "42")) == clean


def test_a_draft_does_not_greet_the_previous_asker(workspace):
    thread = make_thread(
        5, "Runner stuck in pending", "My runner jobs stay pending forever.",
        [("cara", "Hi Priya, a pending job means no runner has its tags: add the job's tags to "
          "the runner in Settings > CI/CD > Runners, or untick 'Run tagged jobs only'. Priya's "
          "project will pick it up at once.", True)])
    thread.messages[0].author = "Priya"
    workspace.store.upsert_thread(thread)
    ticket = Thread("file", "t", "", "jobs pending forever",
                    messages=[Message("q", "me", "CI jobs stay pending, runner never picks them.",
                                      "", kind="question",
                                      text="CI jobs stay pending, runner never picks them.")])
    draft = workspace.answerer().draft(ticket, save=False)
    assert not draft.abstained
    assert "Priya" not in draft.text
    assert draft.text.startswith("Hi, a pending job means no runner has its tags")
    assert "your project will pick it up" in draft.text


def _chat(number: int, question: str, turns: list[tuple[str, str, bool]]) -> Thread:
    thread = make_thread(number, question[:60], question, turns, source="twcs",
                         project="AppleSupport")
    thread.url = ""  # support chats have no address: their titles are a customer's words
    return thread


def test_a_support_chat_draft_is_one_cleaned_reply_without_other_customers(workspace):
    store = workspace.store
    store.upsert_thread(_chat(
        1, "@AppleSupport my iphone battery drains overnight since the update, wtf",
        [("AppleSupport", "@115712 What device is this on?", True),
         ("115712", "@AppleSupport iphone 12, ios 17 damn thing", False),
         ("AppleSupport", "@115712 Go to Settings &gt; Battery and turn off Background App "
          "Refresh for apps you rarely use, then restart. ^AY", True),
         ("115712", "@AppleSupport thanks that worked", False),
         ("AppleSupport", "@115712 That's great to hear! ^AY", True)]))
    store.upsert_thread(_chat(
        2, "@AppleSupport face id stopped working after I dropped my phone",
        [("AppleSupport", "@220011 Sorry to hear that. Please visit a store for a check. /CP",
          True)]))
    ticket = Thread("file", "t", "", "battery drains overnight",
                    messages=[Message("q", "me", "My iPhone battery drains overnight since the "
                                      "update.", "", kind="question",
                                      text="My iPhone battery drains overnight since the update.")])
    draft = workspace.answerer().draft(ticket, save=False)
    assert not draft.abstained
    assert draft.text == ("Go to Settings > Battery and turn off Background App Refresh for apps "
                          "you rarely use, then restart.")
    assert "@" not in draft.text and "Related" not in draft.text
    assert [s.kind for s in draft.sources] == ["reply"]


def test_related_lists_only_the_teams_threads_by_title_and_link(workspace):
    threads = _knowledge(workspace.store)
    workspace.store.upsert_thread(make_thread(
        3, "SSO redirect loop with Okta", "Okta keeps redirecting back to the login page.",
        [("cara", "Allow third-party cookies for the login domain.", True)]))
    ticket = Thread("file", "t", "", "Okta SSO invalid state",
                    messages=[Message("q", "me", "Okta sign-in fails with invalid state.", "",
                                      kind="question", text="Okta sign-in fails with invalid "
                                      "state.")])
    draft = workspace.answerer().draft(ticket, save=False)
    body, _, links = draft.text.partition("\n\nSource: ")
    assert body.startswith("Raise SSO_STATE_TTL") and "Thanks, closing." not in draft.text
    assert links.startswith(f"[{threads['acme/app#1'].title}]({threads['acme/app#1'].url})")
    related = draft.text.split("Related:\n", 1)[1].splitlines()
    assert all(line.startswith("- [") and "](https://" in line for line in related)
    assert "Allow third-party cookies" not in draft.text  # another thread's words: never


def test_the_workspace_calibration_is_used_and_reported(workspace, tmp_path):
    _knowledge(workspace.store)
    assert Judge.for_workspace(workspace.home, workspace.settings,
                               "all-MiniLM-L6-v2").calibration == SEMEVAL_DEFAULT
    own = Calibration(9.0, -4.0, 0.8, name="workspace", source="leave-one-out over 40 threads",
                      embedding_model="all-MiniLM-L6-v2", fitted_at="2026-12-04T00:00:00Z")
    save_calibration(workspace.home, own)
    judge = Judge.for_workspace(workspace.home, workspace.settings, "all-MiniLM-L6-v2")
    assert judge.calibration == own and judge.threshold == 0.8
    assert judge.describe()["name"] == "workspace"
    # Fitted on another model's scores, it does not apply.
    other = Judge.for_workspace(workspace.home, workspace.settings, "tuned-model")
    assert other.calibration == SEMEVAL_DEFAULT
    ticket = tmp_path / "ticket.md"
    ticket.write_text("# SSO sign-in broken\nOkta login ends with an invalid state error.\n")
    result = runner.invoke(app, ["--home", str(workspace.home), "answer", str(ticket), "--json"],
                           catch_exceptions=False)
    [draft] = json.loads(result.stdout)
    assert draft["calibration"]["name"] == "workspace"
    assert draft["calibration"]["threshold"] == 0.8
    listed = runner.invoke(app, ["--home", str(workspace.home), "models"],
                           catch_exceptions=False)
    assert "Confidence calibration: workspace (leave-one-out over 40 threads)" in listed.stdout
    workspace.settings.set("abstain_threshold", 0.3)
    listed = runner.invoke(app, ["--home", str(workspace.home), "models"],
                           catch_exceptions=False)
    assert "abstain below 0.30 (threshold from settings" in listed.stdout


def test_backends_depend_on_neither_the_answerer_nor_the_ranker_nor_the_workspace():
    import ast
    from pathlib import Path

    import understudy.backends

    forbidden = {"answer", "ranker", "workspace", "judge"}
    for path in Path(understudy.backends.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in typing_only:
                top = (node.module or "").split(".")[0]
                assert not (node.level == 2 and top in forbidden), (path.name, node.module)
