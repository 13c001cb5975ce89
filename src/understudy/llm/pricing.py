"""Prices per model in US dollars per million tokens, overridable by the "prices" setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens: prompt, completion, and training (fine-tuning)."""

    input: float
    output: float
    training: float | None = None


# Published list prices; a fine-tuned model ("ft:BASE:...") uses the FINE_TUNED entry of BASE.
PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60, 3.00),
    "gpt-4o": Price(2.50, 10.00, 25.00),
    "gpt-4.1-nano": Price(0.10, 0.40, 1.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 5.00),
    "gpt-4.1": Price(2.00, 8.00, 25.00),
    "gpt-3.5-turbo-instruct": Price(1.50, 2.00),
    "gpt-3.5-turbo": Price(0.50, 1.50, 8.00),
    "davinci-002": Price(2.00, 2.00, 6.00),
    "babbage-002": Price(0.40, 0.40, 0.40),
}
FINE_TUNED: dict[str, Price] = {
    "gpt-4o-mini": Price(0.30, 1.20),
    "gpt-4o": Price(3.75, 15.00),
    "gpt-4.1-nano": Price(0.20, 0.80),
    "gpt-4.1-mini": Price(0.80, 3.20),
    "gpt-4.1": Price(3.00, 12.00),
    "gpt-3.5-turbo": Price(3.00, 6.00),
    "davinci-002": Price(12.00, 12.00),
    "babbage-002": Price(1.60, 1.60),
}


def _parse(name: str, value: Any) -> Price:
    try:
        if isinstance(value, dict):
            return Price(float(value["input"]), float(value["output"]),
                         None if value.get("training") is None else float(value["training"]))
        return Price(*(float(v) for v in value))
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f'The price of "{name}" in settings "prices" is not understood: write '
            '{"input": DOLLARS, "output": DOLLARS} per million tokens'
        ) from None


def _longest_prefix(model: str, table: dict[str, Price]) -> Price | None:
    for name in sorted(table, key=len, reverse=True):
        if model == name or model.startswith(name + "-") or model.startswith(name + ":"):
            return table[name]
    return None


def price_for(model: str, overrides: dict[str, Any] | None = None) -> Price | None:
    """The price of `model`: the settings' override, else the table; None when unknown (free)."""
    custom = {name: _parse(name, value) for name, value in (overrides or {}).items()}
    found = _longest_prefix(model, custom)
    if found is not None:
        return found
    if model.startswith("ft:"):
        base = model.split(":")[1]
        return _longest_prefix(base, FINE_TUNED)
    return _longest_prefix(model, PRICES)


def cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    overrides: dict[str, Any] | None = None,
) -> float:
    """Dollars spent on one call; 0 for models without a price (local servers)."""
    price = price_for(model, overrides)
    if price is None:
        return 0.0
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def training_cost(
    model: str, tokens: int, epochs: int = 1, overrides: dict[str, Any] | None = None
) -> float | None:
    """Dollars a fine-tuning job on `tokens` tokens for `epochs` epochs costs; None if unknown."""
    price = price_for(model, overrides)
    if price is None or price.training is None:
        return None
    return tokens * epochs * price.training / 1_000_000
