"""The options every model call accepts; anything else is refused with one clear line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import UsageError


class Options(BaseModel):
    """Generation options shared by every backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Model name, or a folder for the local backend.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 is deterministic and cached.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int | None = Field(None, gt=0, description="Most tokens to generate.")
    stop: list[str] | None = Field(None, description="Stop sequences (up to 4).")
    seed: int | None = Field(None, description="Seed for sampling, where supported.")

    @field_validator("stop", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (len(value) > 4 or not all(value)):
            raise ValueError("give one to four non-empty stop sequences")
        return value or None

    def api_arguments(self) -> dict[str, Any]:
        """The options set, as keyword arguments of an OpenAI-style request (model excluded)."""
        return self.model_dump(exclude={"model"}, exclude_none=True)


def parse_options(values: dict[str, Any] | None = None, **more: Any) -> Options:
    """Options from a dict; an unknown name or a bad value raises UsageError naming the fix."""
    merged = {**(values or {}), **more}
    try:
        return Options(**merged)
    except ValidationError as exc:
        known = ", ".join(Options.model_fields)
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "options"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option '{name}' (use {known})")
            else:
                problems.append(f"option '{name}': {error['msg']}")
        raise UsageError("Bad model options: " + "; ".join(problems)) from None
