"""The engine for a Hugging Face model folder plus an optional LoRA adapter (transformers)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .client import Engine, Generated
from .options import Options

DEFAULT_MAX_TOKENS = 512


def _require_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError(
            "The local backend needs transformers: pip install 'understudy[local]'"
        ) from None
    return transformers


class LocalEngine(Engine):
    """Generates in this process with AutoModelForCausalLM; counts with the model's tokenizer."""

    name = "local"

    def __init__(self, path: str | Path, adapter: str | Path | None = None,
                 device: str | None = None):
        self.path = Path(path).expanduser()
        self.adapter = Path(adapter).expanduser() if adapter else None
        for folder, what in ((self.path, "model"), (self.adapter, "adapter")):
            if folder is not None and not folder.is_dir():
                raise ConfigError(
                    f"No {what} folder at {folder}: pass --model FOLDER or set "
                    f"\"local_{what}\" in settings.json to a folder saved by transformers"
                )
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        name = str(self.path)
        return f"{name}+{self.adapter}" if self.adapter else name

    @property
    def identity(self) -> str:
        return f"local:{self.model_name}"

    @property
    def tokenizer(self) -> Any:
        return self._load()[0]

    @property
    def model(self) -> Any:
        return self._load()[1]

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._read()
            return self._loaded

    def _read(self) -> tuple[Any, Any]:
        transformers = _require_transformers()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
            model = transformers.AutoModelForCausalLM.from_pretrained(self.path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot load a model from {self.path}: {exc}") from None
        if self.adapter is not None:
            try:
                from peft import PeftModel
            except ImportError:
                raise ConfigError(
                    "A LoRA adapter needs peft: pip install 'understudy[local]'"
                ) from None
            model = PeftModel.from_pretrained(model, str(self.adapter))
        if self.device:
            model = model.to(self.device)
        model.eval()
        return tokenizer, model

    def completion_only(self, model: str) -> bool:
        return not getattr(self.tokenizer, "chat_template", None)

    def count_tokens(self, text: str, model: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def generate(
        self, model: str, messages: list[dict[str, str]] | None, prompt: str | None,
        options: Options,
    ) -> Generated:
        import torch

        tokenizer, network = self._load()
        if messages is not None:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                tokenize=True, return_dict=False)
        else:
            ids = tokenizer.encode(prompt)
        if hasattr(ids, "input_ids"):  # some tokenizers answer a BatchEncoding
            ids = ids["input_ids"]
        inputs = torch.tensor([list(ids)], device=network.device)
        sample = options.temperature > 0
        settings: dict[str, Any] = {
            "max_new_tokens": options.max_tokens or DEFAULT_MAX_TOKENS,
            "do_sample": sample,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id or 0,
        }
        if sample:
            settings["temperature"] = options.temperature
            if options.top_p is not None:
                settings["top_p"] = options.top_p
        if options.seed is not None:
            torch.manual_seed(options.seed)
        with torch.no_grad():
            output = network.generate(inputs, attention_mask=torch.ones_like(inputs), **settings)
        new = output[0][inputs.shape[1]:].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        reason = "length" if len(new) >= settings["max_new_tokens"] else "stop"
        for sequence in options.stop or []:
            if sequence in text:
                text, reason = text[: text.index(sequence)], "stop"
        return Generated(text=text, finish_reason=reason, prompt_tokens=inputs.shape[1],
                         completion_tokens=len(new), response={"tokens": len(new)})
