"""Replies that are not answers: "closing", "+1", "duplicate of #12", quick actions."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from ..errors import ConfigError

MAX_PROCEDURAL_WORDS = 50  # a reply longer than this is never procedural

_REF = (r"(?:#\d+|!\d+|&\d+|[\w.-]+(?:/[\w.-]+)*[#!]\d+|https?://\S+|[0-9a-f]{7,40}"
        r"|(?:the )?(?:mr|merge request|pr|pull request|issue|commit|change) ?[#!]?[\w.-]+)")
_VERSION = r"(?:v(?:ersion)?\.? ?|release |gitlab |ce |ee )?\d+(?:\.\d+)*[\w.-]*"
_TARGET = (rf"(?:the )?(?:{_VERSION}|{_REF}|(?:latest|next|upcoming|new|current) "
           r"(?:release|version|nightly|update)|master|main|nightly|trunk|head|production)")
_REASON = (r"(?:\S+ ){0,3}(?:stale|inactiv\w*|no (?:response|activity|reply|replies|feedback"
           r"|further \w+)|lack of \w+|fixed|resolved|done|completed?|answered|duplicate"
           r"|invalid|won'?t ?fix|not planned|out of scope|obsolete|outdated"
           r"|released|merged|shipped|expected behaviou?r|working as intended)(?: \S+){0,6}")
_SUBJECT = (r"(?:i'm |i am |we're |we are |i'll |i will |we'll |we will |going to |will |let's "
            r"|let me |i |we )?")

# Rule name -> a regex that must match a whole clause of a reply, lowercased, with mentions,
# emoji and edge punctuation removed. Add a rule by adding an entry.
PROCEDURAL_RULES: dict[str, str] = {
    # GitLab quick actions left in a note: "/label ~bug", "/assign @me", "/close"
    "quick_action": (
        r"/(?:label|unlabel|relabel|assign|unassign|reassign|assign_reviewer|unassign_reviewer"
        r"|request_review|milestone|remove_milestone|close|reopen|duplicate|estimate"
        r"|remove_estimate|spend|remove_time_spent|due|remove_due_date|weight|clear_weight"
        r"|epic|remove_epic|title|lock|unlock|todo|done|subscribe|unsubscribe|award|react|cc"
        r"|confidential|copy_metadata|move|clone|merge|approve|unapprove|rebase|draft|ready"
        r"|severity|health_status|iteration|link|relate|unrelate|blocks|blocked_by|promote"
        r"|target_branch|wip|tag|shrug|tableflip|status|set_parent|type)\b.*"
    ),
    "duplicate": (
        rf"(?:this (?:is|looks like|seems like|seems to be) |looks like |seems like "
        rf"|closing as |marking as |marked as )?(?:an? )?(?:possible |probable |likely )?"
        rf"(?:dup|dupe|duplicate|duplicated)(?: issue| ticket| report)?"
        rf"(?:(?: of| to| with| as| by)? {_REF})?"
        rf"|(?:this is )?(?:the )?same (?:as|issue as|problem as) {_REF}"
        rf"|(?:this is |this was |already |being )*(?:tracked|covered|handled|discussed"
        rf"|reported)(?: already)? (?:in|by|at|under|over in) {_REF}"
        r"|(?:please )?(?:follow|subscribe to|watch|track) (?:that|the other|the linked"
        r"|the original) (?:issue|one|ticket|mr|merge request)(?: for (?:\S+ ?){1,3})?"
    ),
    "closing": (
        rf"{_SUBJECT}(?:clos(?:e|es|ing|ed)|re-?open(?:s|ing|ed)?|resolv(?:e|ing|ed)"
        rf"|mark(?:ing)?(?: this)? as (?:resolved|done|closed|fixed))"
        rf"(?: (?:this|it|the issue|this issue|this one|out|now|for now|here|again))*"
        rf"(?: (?:as|since|because|due to|for|per|in favou?r of|with|via|by|in|after) "
        rf"(?:{_REASON}|{_REF}))?"
        r"|(?:this|it) can (?:now )?be closed(?: now)?"
        r"|(?:feel free to|ok to|okay to|safe to|we can|you can) close(?: this| it)?(?: now)?"
    ),
    "reopen_hint": (
        r"(?:please |feel free to |do not hesitate to |don't hesitate to )?(?:re-?open|comment"
        r"|let us know|let me know|ping us|ping me)(?: (?:this|it|here|the issue|again))*"
        r"(?: if (?:\S+ ?){1,14})?"
    ),
    "fixed_in": (
        r"(?:this |it |that |the (?:issue|bug|problem) )?(?:(?:is|was|has been|have been"
        r"|should be|will be|got|is now|should now be|now) )?(?:already |now )?"
        r"(?:fixed|resolved|addressed|released|shipped|merged|landed|backported|patched"
        r"|deployed|done)(?: (?:now|already|upstream))?"
        rf"(?: (?:and |& )?(?:(?:also )?(?:released|backported|shipped|merged|deployed"
        rf"|available|cherry-picked) )?(?:in|on|by|via|with|to|as of|since|from|for|into) "
        rf"{_TARGET})*"
    ),
    "cannot_reproduce": (
        r"(?:i |we )?(?:can ?not|can't|cant|could not|couldn't|was not able to|wasn't able to"
        r"|am not able to|i'm not able to|unable to|am unable to|was unable to|were unable to"
        r"|failed to) (?:reproduce|repro|replicate)(?: (?:this|it|the issue|the problem|that"
        r"|the bug))?(?: (?:on|with|in|using|locally|anymore|here)(?: (?:\S+ ?){0,8})?)?"
        r"|works (?:for me|fine here|on my (?:end|machine|side))(?: (?:\S+ ?){0,6})?|wfm"
        r"|(?:no|not) (?:longer )?reproducible(?: (?:\S+ ?){0,6})?"
    ),
    "plus_one": r"(?:\+1 ?)+(?: (?:from|for|here)(?: (?:\S+ ?){0,4})?)?",
    "same_here": (
        r"same(?: here| for me| for us| issue| problem| thing| error| bug)?"
        r"(?: (?:too|as well|here|on \S+(?: \S+)?))?|(?:me|us) too|ditto"
        r"|(?:i'm |i am |we're |we are |also )(?:also )?(?:seeing|having|experiencing|getting"
        r"|hitting|facing|affected by) (?:this|the same|it)(?: \w+)?(?: (?:too|as well|here"
        r"|on \S+))?|(?:also )?happening (?:to|for) (?:me|us)(?: too)?"
        r"|(?:also |here )?(?:on|with) (?:v|version |gitlab )?\d[\w.-]*(?: \S+)?(?: too| as well)?"
    ),
    "thanks": (
        r"(?:(?:many|big|huge) )?(?:thanks|thank you|thank u|thx|thnx|ty|tyvm|much appreciated"
        r"|appreciated|kudos)(?: (?:so much|very much|a lot|a bunch|again|all|everyone|guys"
        r"|folks|team|in advance|@\S+))*(?: (?:for|to)(?: \S+){1,5})?"
    ),
    "confirmation": (
        r"(?:that|this|it|the fix|your suggestion|the workaround|upgrading|the upgrade) "
        r"(?:worked|works|fixed it|solved it|helped|did it|did the trick|resolved it)"
        r"(?: (?:now|for me|for us|perfectly|great|like a charm))*"
        r"|(?:it|this|everything) (?:works|is working)(?: (?:now|again|fine|great|perfectly))*"
        r"|(?:great|awesome|perfect|excellent|nice|cool|ok|okay|got it|understood|noted"
        r"|makes sense|sounds good|good to know)"
    ),
    "any_update": (
        r"(?:any|is there any|is there an|are there any|do you have any|what's the|what is the)"
        r" (?:update|updates|news|progress|eta|status|timeline)(?: (?:on|for|about|here"
        r"|regarding)(?: \S+){0,4})?|eta"
        r"|(?:friendly |gentle |quick )?(?:bump|ping|reminder|nudge|follow[- ]?up)(?: \S+){0,3}"
        r"|(?:is )?(?:anyone|someone|somebody) (?:looking|working) (?:at|on|into) (?:this|it)"
        r"|when (?:will|can we expect|is) (?:this|it) (?:be )?(?:fixed|released|available"
        r"|merged|done|resolved)(?: \S+){0,3}"
        r"|(?:this is )?still (?:an issue|happening|broken|not fixed|seeing this)(?: \S+){0,4}"
    ),
    "looking_into": (
        rf"{_SUBJECT}(?:take a look|have a look|look(?:ing)? into (?:it|this)"
        r"|investigat(?:e|ing)(?: this| it)?|check(?:ing)?(?: this| it| on it)?|on it"
        r"|(?:looking|working) on (?:it|this|a fix))(?: (?:now|today|shortly|soon|asap))*"
        r"(?: and (?:get back|report back|update)(?: \S+){0,3})?"
    ),
    "moved": r"(?:this |the issue )?(?:has been |was )?(?:moved|migrated|transferred) to \S+",
    "triage": (
        rf"{_SUBJECT}(?:assigning|assigned|labell?ing|labell?ed|tagging|tagged|triaging|triaged"
        r"|scheduling|scheduled|moving|moved)(?: this| it)?(?: (?:to|for|as|into|with)"
        r"(?: \S+){1,4})?"
    ),
    "wont_fix": (
        r"(?:closing as )?(?:won'?t ?fix|wontfix|not planned|not a bug|working as intended"
        r"|works as intended|by design|out of scope|invalid|stale)"
    ),
    # moving the talk elsewhere: "Please open a support ticket", "Send us a DM"
    "redirect": (
        r"(?:please |kindly |can you |could you )?(?:send us a dm|send a dm|dm us|dm me"
        r"|reply in dm|let us know in dm|join us in dm|contact (?:our |the )?support"
        r"|open a (?:support )?(?:ticket|request)|email (?:us|support)"
        r"|reach out to (?:us|support))(?: (?:\S+ ?){0,12})?"
    ),
    # greetings, sign-offs, mentions and interjections: never an answer on their own
    "filler": (
        r"(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))(?: \S+)?|cc(?: @\S+)*"
        r"|(?:@\S+ ?)+|(?:best |kind |warm )?regards|br|cheers|best|sincerely"
        r"|lo+l|ha(?:ha)+|hm+|oh|ah|wow|oops"
        r"|(?:we are|we're|we'd|we would|i'd|i would|i'm|i am|we'll|we will)(?: always)?"
        r" (?:be )?(?:happy|glad|love|here) to help|(?:so )?sorry to hear (?:this|that)"
    ),
}

_FILLER_RULES = {"filler"}
_CLAUSE_SPLIT = re.compile(r"[.!?;,:]+(?:\s+|$)|\s+[-–—]\s+")
_MENTIONS = re.compile(r"^(?:@[\w.-]+[\s,:]+)+(?=\S)")
_EMOJI_PLUS_ONE = re.compile(r":\+1:|:thumbsup:|\U0001F44D[\U0001F3FB-\U0001F3FF]?")


_SHORTCODE = re.compile(r":[a-z0-9_-]+:")  # :tada:
_SPACES = re.compile(r"\s+")
_ASCII_SYMBOLS = str.maketrans("", "", "^`")  # the ASCII characters of categories So, Sk, Cf


@functools.lru_cache(maxsize=4)
def _compiled_rules(rules: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(pattern)) for name, pattern in rules)


@functools.lru_cache(maxsize=64)
def _compiled_extra(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.I))
        except re.error as exc:
            raise ConfigError(
                f"The procedural pattern {pattern!r} is not a valid regular expression ({exc});"
                " fix it in the workspace settings under 'procedural_patterns'."
            ) from None
    return tuple(compiled)


def is_procedural(text: str, extra: list[str] | None = None) -> bool:
    """True for replies that are not answers ("closing", "+1", "duplicate of #12")."""
    return procedural_rule(text, extra) is not None


def procedural_rule(text: str, extra: list[str] | None = None) -> str | None:
    """Name of the rule that makes a reply procedural, or None (see _rule); remembered for
    texts seen again, as the replies of a retrieved thread are at every answer."""
    return _rule(text or "", tuple(extra or ()), tuple(PROCEDURAL_RULES.items()))


@functools.lru_cache(maxsize=65536)
def _rule(text: str, extra: tuple[str, ...], rules: tuple[tuple[str, str], ...]) -> str | None:
    """Name of the rule that makes a reply procedural, or None when it may be an answer.

    Every line and clause of the reply must match a rule of PROCEDURAL_RULES, so "Thanks!"
    is procedural and "Thanks, set X to 5 and restart" is not. Each extra pattern (the
    workspace setting "procedural_patterns") is searched case-insensitively in the whole
    reply and marks it procedural; anchor it with ^ and $ to match the whole reply.
    Replies over MAX_PROCEDURAL_WORDS words never are.
    """
    clean = unicodedata.normalize("NFKC", text).replace("’", "'").strip()
    if not clean or len(clean.split()) > MAX_PROCEDURAL_WORDS:
        return None
    for number, pattern in enumerate(_compiled_extra(extra)):
        if pattern.search(clean):
            return f"procedural_patterns[{number}]"
    found: str | None = None
    after_sign_off = False
    compiled = _compiled_rules(rules)
    for clause in _clauses(clean):
        name = _clause_rule(clause.lower(), compiled)
        if name is None:
            # a bare name after a sign-off or thanks ("Thanks, Maria")
            words = clause.split()
            if after_sign_off and len(words) <= 2 and all(w.isalpha() and w[0].isupper()
                                                          for w in words):
                continue
            return None
        after_sign_off = name in ("filler", "thanks")
        if found is None or found in _FILLER_RULES:
            found = name
    return found


def _clauses(text: str) -> Iterable[str]:
    """Lines and clauses of a reply, without mentions, symbols and edge punctuation."""
    for line in text.split("\n"):
        line = _SHORTCODE.sub("", _EMOJI_PLUS_ONE.sub("+1", line.strip()))
        parts = [line] if line.startswith("/") else _CLAUSE_SPLIT.split(line)
        for part in parts:
            part = _MENTIONS.sub("", part.strip())
            if part.isascii():  # its only symbols of those categories are ^ and `
                part = part.translate(_ASCII_SYMBOLS)
            else:
                part = "".join(c for c in part
                               if unicodedata.category(c) not in ("So", "Sk", "Cf"))
            part = _SPACES.sub(" ", part).strip(" \t.!?,;:()*_~`'\"")
            if part:
                yield part


def _clause_rule(clause: str, compiled: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    for name, pattern in compiled:
        if pattern.fullmatch(clause):
            return name
    return None
