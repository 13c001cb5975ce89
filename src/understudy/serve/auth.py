"""API tokens (stored hashed), bearer authentication and a per-token rate limit."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from ..store import Store

PREFIX = "us_"
DEFAULT_RATE_PER_MINUTE = 600
# Each scope includes the ones before it: review can ask, admin can do everything.
SCOPES = {
    "ask": "answers and chat",
    "review": "drafts: list, read, feedback, send",
    "admin": "API tokens",
}
DEFAULT_SCOPE = "ask"


def hash_token(token: str) -> str:
    """The SHA-256 of a token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_scope(scope: str) -> str:
    """`scope` if it is one of SCOPES, else ValueError naming them."""
    if scope not in SCOPES:
        raise ValueError(f"Unknown scope '{scope}': use {', '.join(SCOPES)}")
    return scope


def scope_allows(held: str, needed: str) -> bool:
    """Whether a token of scope `held` may do what `needed` guards."""
    order = list(SCOPES)
    return held in SCOPES and order.index(held) >= order.index(needed)


def create_token(store: Store, name: str, scope: str = DEFAULT_SCOPE) -> tuple[int, str]:
    """A new random token named `name`; returns (id, token). The token is shown only once."""
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = store.add_token(name, hash_token(token), token[: len(PREFIX) + 6],
                               check_scope(scope))
    return token_id, token


@dataclass
class Caller:
    """Who made an authenticated request, and what its token may do."""

    token_id: int
    name: str
    scope: str = DEFAULT_SCOPE

    def allows(self, needed: str) -> bool:
        return scope_allows(self.scope, needed)


def authenticate(store: Store, header: str | None) -> Caller | None:
    """The caller named by an `Authorization: Bearer TOKEN` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = store.token_by_hash(hash_token(token.strip()))
    return Caller(row["id"], row["name"], row["scope"]) if row else None


class RateLimiter:
    """A sliding one-minute window of requests per key; thread-safe."""

    def __init__(self, per_minute: int = DEFAULT_RATE_PER_MINUTE, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[object, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: object) -> float | None:
        """Count a request for `key`; None if allowed, else seconds until it would be."""
        now = self.clock()
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(0.0, window[0] + 60 - now)
            window.append(now)
            return None
