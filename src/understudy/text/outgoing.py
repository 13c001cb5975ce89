"""Text that leaves understudy for a tracker, a chat or an API client: masked and made inert.

`safe_outgoing` is the one function every draft passes before it is posted, returned by the API
or shown in Slack: secrets and personal data are masked, and nothing in it can act on the
tracker (GitLab quick actions, mass mentions) or call home (remote images).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .masking import mask_secrets

# A line GitLab runs as a quick action: a slash command at the start of a line, outside code.
_QUICK_ACTION = re.compile(r"^(?P<indent>[ \t]{0,3})(?P<cmd>/[a-z][a-z0-9_]*)\b(?P<rest>[^\n]*)$",
                           re.M)
# Mentions that notify a whole group or channel.
_MASS_MENTION = re.compile(r"(?<![\w`])@(?P<who>all|here|channel|everyone)\b", re.I)
_SLACK_MASS = re.compile(r"<!(?P<who>here|channel|everyone)(?:\|[^>]*)?>", re.I)
# Markdown images (inline, reference definitions are links) and HTML <img> tags.
_MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]{0,500})\]\((?P<url>[^)\s]{1,2000})[^)\n]{0,500}\)")
_HTML_IMAGE = re.compile(r"<img\b[^>\n]{0,2000}>", re.I)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.M)


def _outside_code(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_code_block, part) pieces along fenced code blocks."""
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


def make_inert(text: str, allowed_quick_actions: Iterable[str] = ()) -> str:
    """`text` with quick actions, mass mentions and remote images turned into plain text.

    A quick action line keeps its words inside inline code (`/close`), so a reader still sees
    what the reply said; `allowed_quick_actions` (without the slash) are left as they are.
    """
    allowed = {a.lstrip("/").lower() for a in allowed_quick_actions}

    def quick(match: re.Match[str]) -> str:
        if match.group("cmd")[1:].lower() in allowed:
            return match.group(0)
        return f"{match.group('indent')}`{match.group('cmd')}`{match.group('rest')}"

    def image(match: re.Match[str]) -> str:
        alt = match.group("alt").strip() or "image"
        return f"[{alt}]({match.group('url')})"

    out = []
    for is_code, part in _outside_code(text):
        if not is_code:
            part = _QUICK_ACTION.sub(quick, part)
            part = _MASS_MENTION.sub(lambda m: f"`@{m.group('who')}`", part)
            part = _SLACK_MASS.sub(lambda m: f"`@{m.group('who')}`", part)
            part = _MD_IMAGE.sub(image, part)
            part = _HTML_IMAGE.sub("[image]", part)
        out.append(part)
    return "".join(out)


def safe_outgoing(text: str, allowed_quick_actions: Iterable[str] = ()) -> str:
    """`text` masked (secrets, personal data) and made inert, ready to leave the machine."""
    return make_inert(mask_secrets(text), allowed_quick_actions)
