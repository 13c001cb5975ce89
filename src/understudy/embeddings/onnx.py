"""The embedding model under ONNX Runtime, for encoding tickets one at a time while serving.

PyTorch runs the model op by op from Python, so concurrent requests queue on the interpreter
lock between ops, and numpy and torch thread pools spin against each other on a small machine.
The same weights exported to ONNX run as one native call that releases the lock: requests
encode side by side, one core each. `fp32` gives the same vectors as sentence-transformers
(within 1e-6); `int8` quantises the weights per channel, about twice as fast again, with
vectors within cosine 0.99 of fp32 (docs/benchmarks.md has both, and their effect on quality).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from ..config import default_cache
from ..errors import ConfigError
from .sentence import Embedder

PRECISIONS = ("fp32", "int8")
OPSET = 17


def _fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of the model's files: changes when the model does."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        parts.append(f"{path.relative_to(folder)}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def _mean_pooled(model) -> bool:  # noqa: ANN001  (a SentenceTransformer)
    """Whether the model is transformer -> mean pooling [-> normalise], what the export does."""
    modules = list(model)
    if len(modules) not in (2, 3) or not hasattr(modules[0], "auto_model"):
        return False
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    mean = mode == "mean" if mode is not None else getattr(pooling, "pooling_mode_mean_tokens",
                                                          False)
    return bool(mean) and (len(modules) == 2 or type(modules[2]).__name__ == "Normalize")


def export(embedder: Embedder, folder: Path | None = None, precision: str = "fp32") -> Path:
    """The model's transformer as an ONNX file in `folder` (default: the user's cache), made
    once per model and precision, then reused."""
    folder = folder or default_cache() / "onnx"
    if precision not in PRECISIONS:
        raise ConfigError(f"Unknown query encoder precision '{precision}': use "
                          f"{' or '.join(PRECISIONS)}")
    stem = f"{embedder.path.name}-{_fingerprint(embedder.path)}"
    target = folder / f"{stem}-{precision}.onnx"
    if target.is_file():  # made from this very model folder, so checked when it was made
        return target
    model = embedder.model
    if not _mean_pooled(model):
        raise ConfigError(f"The embedding model {embedder.name} does not use mean pooling; "
                          "its queries are encoded with PyTorch")
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f"{stem}-fp32.onnx"
    if not plain.is_file():
        _export_fp32(model, plain)
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")
        quiet = logging.getLogger()  # the quantizer logs advice through the root logger
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            quantize_dynamic(str(plain), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            quiet.setLevel(level)
        tmp.replace(target)
    return target


def _export_fp32(model, target: Path) -> None:  # noqa: ANN001
    import torch

    transformer = model[0].auto_model.eval()
    sample = model.tokenizer(["an example query", "a second one"], padding=True,
                             return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(transformer), tuple(sample[n] for n in names), str(tmp),
                          input_names=names, output_names=["hidden"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    tmp.replace(target)


class OnnxQueryEncoder:
    """Encodes a few texts at a time with ONNX Runtime; safe to call from many threads."""

    def __init__(self, embedder: Embedder, folder: Path | None = None, precision: str = "fp32",
                 threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("onnxruntime is missing: pip install onnxruntime onnx") from None
        self.name, self.dim, self.precision = embedder.name, embedder.dim, precision
        self.path = export(embedder, folder, precision)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        # The tokenizer is read from the model folder when it can be: with the ONNX file already
        # made, serving then never loads PyTorch (most of the server's start-up otherwise).
        self.tokenizer = _folder_tokenizer(embedder.path) or _ModelTokenizer(embedder.model)
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer's padding state is shared

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        """L2-normalised float32 vectors, mean-pooled as the sentence-transformers model does;
        `kind` is ignored, as it is there."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._tokenizer_lock:
            tokens = self.tokenizer(texts)
        feeds = {n: tokens[n] for n in self.inputs}
        hidden = self.session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


class _ModelTokenizer:
    """The loaded sentence-transformers model's tokenizer, giving int64 arrays by input name."""

    def __init__(self, model):  # noqa: ANN001  (a SentenceTransformer)
        self.inner, self.max_tokens = model.tokenizer, model.max_seq_length

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        tokens = self.inner(texts, padding=True, truncation=True, max_length=self.max_tokens,
                            return_tensors="np")
        return {name: np.asarray(tokens[name], dtype=np.int64) for name in tokens}


class _FileTokenizer:
    """The model folder's tokenizer.json under `tokenizers`, set up as sentence-transformers
    sets it: truncated at the model's max_seq_length, padded to the longest text."""

    def __init__(self, tokenizer, max_tokens: int, pad_token: str):  # noqa: ANN001
        self.inner = tokenizer
        self.inner.enable_truncation(max_length=max_tokens)
        self.inner.enable_padding(pad_id=tokenizer.token_to_id(pad_token), pad_token=pad_token)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.inner.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


def _folder_tokenizer(folder: Path) -> _FileTokenizer | None:
    """The tokenizer of a model folder with tokenizer.json and a max_seq_length; else None."""
    try:
        import json

        from tokenizers import Tokenizer

        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        special = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        limit = min(int(config["max_seq_length"]), int(special.get("model_max_length", 1 << 20)))
        pad = special.get("pad_token") or "[PAD]"
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        if tokenizer.token_to_id(pad) is None:
            return None
        return _FileTokenizer(tokenizer, limit, pad)
    except Exception:  # tokenizers raises a bare Exception for a file it cannot read
        return None
