"""Text that leaves understudy for a tracker, a chat or an API client: masked and made inert.

`safe_outgoing` is the one function every draft passes before it is posted, returned by the API
or shown in Slack: secrets and personal data are masked, and nothing in it can act on the
tracker (GitLab quick actions, mass mentions) or call home (remote images).

Every pattern here is linear: each repetition stops at a character that also starts the next
candidate (`[`, `(`, `<`, a line break), so megabytes of `![`, `<img ` or `/close` cost one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .masking import mask_secrets

# GitLab runs a quick action on a line that starts with `/name` followed by the end of the line
# or a space (`/etc/hosts` is not one), for every name it knows, and skips only ``` code blocks
# fenced at the start of a line. Every command-shaped line is neutralised, not only today's
# names (QUICK_ACTIONS), so a command GitLab adds later is covered too; up to three spaces of
# indent are taken as well, which costs nothing.
_QUICK_ACTION = re.compile(
    r"^(?P<indent>[ \t]{0,3})(?P<cmd>/[A-Za-z][A-Za-z0-9_]*+)(?P<rest>(?:[ \t][^\n]*+)?)$", re.M)
QUICK_ACTIONS = frozenset("""
    add_child add_contacts add_email approve assign assign_reviewer award blocked_by blocks
    board_move cc checkin_reminder child_epic clear_health_status clear_weight clone close
    confidential convert_to_ticket copy_metadata create_merge_request done draft due duplicate
    epic estimate estimate_time exclude health_status invite_email iteration label labels link
    lock merge milestone move page parent_epic promote promote_to promote_to_incident publish
    react ready reassign reassign_reviewer rebase relabel relate remove_child remove_child_epic
    remove_contacts remove_due_date remove_email remove_epic remove_estimate remove_iteration
    remove_label remove_milestone remove_parent remove_parent_epic remove_reviewer
    remove_time_estimate remove_time_spent remove_zoom reopen request_review reviewer
    set_parent severity shrug spend spend_time spent status submit_review subscribe
    summarize_diff tableflip target_branch timeline title todo type unapprove unassign
    unassign_reviewer unlabel unlink unlock unsubscribe weight wip zoom
""".split())
# Mentions that notify a whole group or channel (GitLab, GitHub, Slack, Discord).
_MASS_MENTION = re.compile(r"(?<![\w`])@(?P<who>all|here|channel|everyone)\b", re.I)
_SLACK_MASS = re.compile(
    r"<!(?P<who>here|channel|everyone|subteam\^[A-Za-z0-9]++)(?:\|[^<>\n]*+)?>", re.I)
# Markdown images: inline `![alt](url "title")`, reference `![alt][ref]` / `![alt][]` and the
# shortcut `![ref]`, whose URL comes from a `[ref]: url` line; HTML tags that load a URL.
_MD_IMAGE = re.compile(
    r"!\[(?P<alt>[^\[\]\n]{0,500}+)\](?:\((?P<url>[^()\s]{1,2000}+)[^()\n]{0,500}+\))?")
_HTML_IMAGE = re.compile(
    r"<(?:img|image|picture|source|video|audio|iframe|embed|object|input)\b[^<>\n]*+>?", re.I)
_HTML_SRC = re.compile(r"\b(?:src|srcset|poster|data)\s*=\s*[\"']?(?P<url>[^\"'\s<>]{1,2000})",
                       re.I)
_GITLAB_FENCE_OPEN = re.compile(r"^```", re.M)
_GITLAB_FENCE_CLOSE = re.compile(r"\n```(?![^\n])")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.M)


def _gitlab_code_blocks(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_code, part) along the ``` blocks GitLab skips for quick actions:
    a line starting with ``` up to the next line that is exactly ```."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    while True:
        opening = _GITLAB_FENCE_OPEN.search(text, pos)
        if opening is None:
            break
        closing = _GITLAB_FENCE_CLOSE.search(text, opening.start() + 4)
        if closing is None:
            break  # unclosed: GitLab runs the commands inside, so they are neutralised
        pieces += [(False, text[pos:opening.start()]), (True, text[opening.start():closing.end()])]
        pos = closing.end()
    pieces.append((False, text[pos:]))
    return [p for p in pieces if p[1]]


def _markdown_code_blocks(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_code, part) along fenced code blocks as Markdown renders them."""
    pieces: list[tuple[bool, str]] = []
    pos, fence = 0, None
    for match in _FENCE.finditer(text):
        if fence is None:
            pieces.append((False, text[pos:match.start()]))
            pos, fence = match.start(), match.group(1)
        elif match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end
            pieces.append((True, text[pos:end]))
            pos, fence = end, None
    pieces.append((fence is not None, text[pos:]))
    return [p for p in pieces if p[1]]


def _without_quick_actions(text: str, allowed: set[str]) -> str:
    def quick(match: re.Match[str]) -> str:
        if match.group("cmd")[1:].lower() in allowed:
            return match.group(0)
        return f"{match.group('indent')}`{match.group('cmd')}`{match.group('rest')}"

    return "".join(part if is_code else _QUICK_ACTION.sub(quick, part)
                   for is_code, part in _gitlab_code_blocks(text))


def _image(match: re.Match[str]) -> str:
    alt = match.group("alt").strip() or "image"
    url = match.group("url")
    return f"[{alt}]({url})" if url else f"[{alt}]"


def _html_image(match: re.Match[str]) -> str:
    source = _HTML_SRC.search(match.group(0))
    return f"[image]({source.group('url')})" if source else "[image]"


def make_inert(text: str, allowed_quick_actions: Iterable[str] = ()) -> str:
    """`text` with quick actions, mass mentions and remote images turned into plain text.

    A quick action line keeps its words inside inline code (`/close`), so a reader still sees
    what the reply said; `allowed_quick_actions` (without the slash) are left as they are. An
    image becomes a link to it, which a reader may open but nothing loads by itself.
    """
    if not text:
        return text
    allowed = {a.lstrip("/").lower() for a in allowed_quick_actions}
    text = _without_quick_actions(text, allowed)
    out = []
    for is_code, part in _markdown_code_blocks(text):
        if not is_code:
            part = _MASS_MENTION.sub(lambda m: f"`@{m.group('who')}`", part)
            part = _SLACK_MASS.sub(lambda m: f"`@{m.group('who').split('^')[0]}`", part)
            # `![` left over (an alt text with brackets in it) still starts an image
            part = _MD_IMAGE.sub(_image, part).replace("![", "[")
            part = _HTML_IMAGE.sub(_html_image, part)
        out.append(part)
    return "".join(out)


def safe_outgoing(text: str, allowed_quick_actions: Iterable[str] = (),
                  public_contacts: Iterable[str] = ()) -> str:
    """`text` masked (secrets, personal data) and made inert, ready to leave the machine.

    `public_contacts` are the team's own published email addresses (or `@domain`s), kept.

    Making text inert can join characters into a new secret's shape (`u:p@![` becomes
    `u:p@[`, a password in a URL), so when it changed anything both run again.
    """
    allowed, public = tuple(allowed_quick_actions), tuple(public_contacts)
    for _ in range(4):
        masked = mask_secrets(text, public)
        done = make_inert(masked, allowed)
        if done == masked:  # masking is idempotent, so nothing new can appear
            return done
        text = done
    return text
