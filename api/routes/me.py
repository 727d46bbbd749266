"""GET /v1/me: what the caller's API key may do (its scopes and collections), so that a
client offers only that; the chat page leaves out what the key may not do instead of
meeting 403s. Any valid key may ask, whatever its scopes."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import SCOPES
from api.deps import Caller
from api.schemas import AUTH_ERRORS, CallerOut

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/me", response_model=CallerOut, responses={401: AUTH_ERRORS[401]})
def me(key: Caller) -> CallerOut:
    """The caller's API key: its name, its scopes and the collections it may use (null:
    every collection). Any valid key may ask, whatever its scopes. On a server without
    keys, `keys` is false and every scope is allowed, over every collection."""
    if key is None:
        return CallerOut(keys=False, name=None, scopes=list(SCOPES), collections=None)
    return CallerOut(
        keys=True,
        name=key.name,
        scopes=[scope for scope in SCOPES if scope in key.scopes],
        collections=sorted(key.collections) if key.collections is not None else None,
    )
