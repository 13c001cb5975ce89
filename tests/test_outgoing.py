"""Outgoing drafts are inert: no quick action, mass mention or remote image survives."""

from __future__ import annotations

import time

import pytest

from understudy.text.outgoing import QUICK_ACTIONS, make_inert, safe_outgoing


@pytest.mark.parametrize(("draft", "inert"), [
    ("Fixed in 2.3.\n/close", "Fixed in 2.3.\n`/close`"),
    ("/label ~answered ~\"needs review\"", "`/label` ~answered ~\"needs review\""),
    ("Thanks!\n/assign @attacker\n/unassign @maria",
     "Thanks!\n`/assign` @attacker\n`/unassign` @maria"),
    ("  /Close", "  `/Close`"),
    ("![](http://evil.example/t.png)", "[image](http://evil.example/t.png)"),
    ("See ![the log](https://evil.example/p.gif \"title\") here",
     "See [the log](https://evil.example/p.gif) here"),
    ("![tracking][pixel]\n\n[pixel]: http://evil.example/t.png",
     "[tracking][pixel]\n\n[pixel]: http://evil.example/t.png"),
    ("![pixel]\n\n[pixel]: http://evil.example/t.png",
     "[pixel]\n\n[pixel]: http://evil.example/t.png"),
    ("![a [nested] alt](http://evil.example/t.png)",
     "[a [nested] alt](http://evil.example/t.png)"),
    ('<img src="http://evil.example/t.png" width=1>', "[image](http://evil.example/t.png)"),
    ("<IMG SRC=http://evil.example/t.png", "[image](http://evil.example/t.png)"),
    ('<video poster="http://evil.example/p.png"></video>',
     "[image](http://evil.example/p.png)</video>"),
    ("Hey @all and @here, <!channel> <!here|here> <!subteam^S012AB|ops>",
     "Hey `@all` and `@here`, `@channel` `@here` `@subteam`"),
])
def test_hostile_drafts_are_made_inert(draft, inert):
    assert make_inert(draft) == inert
    assert make_inert(inert) == inert  # nothing left to neutralise


def test_every_gitlab_quick_action_at_line_start_is_neutralised():
    for name in sorted(QUICK_ACTIONS):
        assert make_inert(f"Done.\n/{name} x") == f"Done.\n`/{name}` x", name
        assert make_inert(f"/{name}") == f"`/{name}`"


@pytest.mark.parametrize("text", [
    "Edit /etc/hosts and restart.\n/etc/hosts needs the entry too",
    "Use the /close endpoint of the API.",
    "> quoted /close is not at the start",
    "Email maria@all.example.com or ping @alice.",
    "```\n/close\n```",  # GitLab does not run commands in a code block
    "[docs](https://docs.example.com) and [ref]\n\n[ref]: https://x.example",
])
def test_ordinary_text_is_left_alone(text):
    assert make_inert(text) == text


def test_code_blocks_gitlab_does_not_skip_are_neutralised():
    # GitLab skips only ``` fences at the start of a line, closed by a ``` line
    assert make_inert("~~~\n/close\n~~~") == "~~~\n`/close`\n~~~"
    assert make_inert("  ```\n/close\n  ```") == "  ```\n`/close`\n  ```"
    assert make_inert("```\nunclosed\n/close") == "```\nunclosed\n`/close`"
    assert make_inert("```sh\n/close\n```\n/reopen") == "```sh\n/close\n```\n`/reopen`"


def test_allowed_quick_actions_stay():
    draft = "Done.\n/label ~answered\n/close"
    assert make_inert(draft, ["label"]) == "Done.\n/label ~answered\n`/close`"
    assert make_inert(draft, ["/label", "close"]) == draft


def test_safe_outgoing_masks_then_neutralises():
    draft = "Use token glpat-Ab3dEf6hIj9kLmNoPqRs, mail ops@acme.example\n/close"
    assert safe_outgoing(draft) == (
        "Use token [REDACTED:gitlab_token], mail [REDACTED:email]\n`/close`")


@pytest.mark.parametrize("unit", ["![", "![a](", "<img ", "<!here", "/close\n", "```\n", "@all "])
def test_hostile_megabyte_is_made_inert_in_bounded_time(unit):
    text = unit * (1_000_000 // len(unit))
    started = time.perf_counter()
    make_inert(text)
    # 0.1 to 1 s (250,000 code fences cost the most); the bound only catches a pattern that
    # rescans, which would take minutes on a megabyte
    assert time.perf_counter() - started < 10


def test_the_teams_published_addresses_stay_and_every_other_one_is_masked():
    text = ("Reset emails come from noreply@acme.test; write to help@support.acme.test or to "
            "jane.doe@gmail.com if it still fails.")
    kept = safe_outgoing(text, public_contacts=["noreply@acme.test", "@support.acme.test"])
    assert "noreply@acme.test" in kept and "help@support.acme.test" in kept
    assert "jane.doe@gmail.com" not in kept and "[REDACTED:email]" in kept
    assert "noreply@acme.test" not in safe_outgoing(text)  # nothing is public by default
