"""The local backend on a tiny randomly initialised model built here (no downloads)."""

from __future__ import annotations

import json

import pytest
from factories import make_thread

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

from understudy.errors import ConfigError, UsageError  # noqa: E402
from understudy.llm import client_for  # noqa: E402
from understudy.llm.local import LocalEngine  # noqa: E402

CORPUS = [
    "Set SSO_STATE_TTL=600 and clear cookies; the state expired.",
    "Upgrade to 2.3.1 which fixes the CSV encoder.",
    "Sources: Question: Answer: Title: ticket customer team reply cite [1] [2]",
    "You draft replies to support tickets for a software team. I don't know.",
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


def test_missing_model_folder_names_the_fix(workspace, tmp_path):
    with pytest.raises(UsageError, match="local_model"):
        client_for(workspace, "local")
    with pytest.raises(ConfigError, match="No model folder at"):
        client_for(workspace, "local", str(tmp_path / "nowhere"))
