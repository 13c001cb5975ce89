"""API tokens over the API under /v1/tokens: list, create and revoke (admin scope)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..errors import NotFoundError
from ..store import MAX_ID
from .app import require_scope
from .auth import DEFAULT_SCOPE, Caller, create_token

router = APIRouter(prefix="/v1", tags=["tokens"])

Scope = Literal["ask", "review", "admin"]  # the keys of auth.SCOPES, in order


class TokenOut(BaseModel):
    """A token as listed: its name, scope and first characters, never the token."""

    id: int
    name: str
    prefix: str
    scope: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class TokenList(BaseModel):
    data: list[TokenOut]


class TokenRequest(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200, description="Who or what it is for.")
    scope: Scope = Field(
        DEFAULT_SCOPE,
        description="ask: answers and chat; review: also drafts (list, read, feedback, send); "
        "admin: also API tokens.",
    )


class TokenCreated(TokenOut):
    token: str = Field(..., description="The token itself: shown only in this answer.")


@router.get("/tokens", response_model=TokenList, summary="List API tokens")
def list_tokens(
    request: Request, caller: Caller = Depends(require_scope("admin"))
) -> TokenList:
    return TokenList(data=[TokenOut(**t) for t in request.app.state.service.store.tokens()])


@router.post("/tokens", response_model=TokenCreated, status_code=201,
             summary="Create an API token (shown once)")
def add_token(
    body: TokenRequest, request: Request, caller: Caller = Depends(require_scope("admin"))
) -> TokenCreated:
    store = request.app.state.service.store
    token_id, token = create_token(store, body.name.strip(), body.scope)
    row = next(t for t in store.tokens() if t["id"] == token_id)
    return TokenCreated(**row, token=token)


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke an API token")
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id.")],
    request: Request, caller: Caller = Depends(require_scope("admin")),
) -> TokenOut:
    store = request.app.state.service.store
    if not store.revoke_token(str(token_id)):
        raise NotFoundError(f"No live token {token_id}: list them with GET /v1/tokens")
    return TokenOut(**next(t for t in store.tokens() if t["id"] == token_id))
