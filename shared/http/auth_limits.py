"""Limits on what a key can do, and on guessing keys — in process memory, both APIs.

- **Failed authentications per client address**: every ``401`` answered to an address on
  a route that needs a key takes a token from that address's bucket (burst
  ``auth_failures_burst``, refilled at ``auth_failures_per_second``). While the bucket is
  empty, a key from that address is answered ``429 rate_limited`` *before* it is looked
  up — a guessed key costs no database round trip — unless this process authenticated
  that very key recently (so a shop's dashboard behind the same address as a guesser
  keeps working; a key it has not used yet waits for the budget to refill).
- **Per key, after it was checked**: one bucket per principal (merchant and key kind).
  Secret keys get the ``secret`` budget; publishable keys — shipped in web pages, so
  anyone may use them — the ``publishable`` one, which on the command API is the
  storefront's budget of orders (the only thing a publishable key may do there).

``AuthLimitsMiddleware`` counts the 401s and puts the limits in the ASGI scope;
``shared.http.auth.authenticate`` asks them before the lookup and charges the principal
after it, so every endpoint that authenticates is limited without wiring of its own.

Guarantees and limits: per process (N processes give up to N × each budget). Requests
from one address checked while others are still being looked up may all pass, so
concurrent guesses can exceed the failure budget by at most the requests in flight
(bounded by load shedding). Every map is LRU-bounded (100,000 addresses or principals,
10,000 remembered keys, as digests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import LRUCache
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.errors import ApiError
from shared.http.rate_limit import TokenBuckets, client_address, retry_after

if TYPE_CHECKING:
    from shared.http.auth import Principal

SCOPE_KEY = "merchant.auth_limits"


@dataclass(frozen=True)
class Budget:
    per_second: float
    burst: int


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class AuthLimits:
    def __init__(self, failures: Budget, secret: Budget, publishable: Budget, remembered_keys: int = 10_000) -> None:
        self.failures = TokenBuckets(failures.per_second, failures.burst)
        self.keys = {
            "secret": TokenBuckets(secret.per_second, secret.burst),
            "publishable": TokenBuckets(publishable.per_second, publishable.burst),
        }
        self._known: LRUCache[bytes, bool] = LRUCache(remembered_keys)

    def before_lookup(self, scope: Scope, key: str) -> None:
        """``429`` when the address is over its failure budget and ``key`` is not one this
        process authenticated recently."""
        wait = self.failures.wait(client_address(scope))
        if wait and _digest(key) not in self._known:
            message = "Too many failed authentications from this address; wait before trying again."
            raise ApiError(429, "rate_limited", message, headers={"Retry-After": retry_after(wait)})

    def authenticated(self, key: str, principal: Principal) -> None:
        """Remember the key, then count the request against its budget (``429`` beyond)."""
        self._known[_digest(key)] = True
        wait = self.keys[principal.kind].take(principal.merchant_id.encode())
        if wait:
            message = f"This {principal.kind} key is over its request budget; slow down."
            raise ApiError(429, "rate_limited", message, headers={"Retry-After": retry_after(wait)})

    def failed(self, scope: Scope) -> None:
        self.failures.charge(client_address(scope))


class AuthLimitsMiddleware:
    """Counts the 401s of ``keyed`` paths per address and hands the limits to
    ``authenticate`` through the scope."""

    def __init__(self, app: ASGIApp, limits: AuthLimits, keyed: Callable[[str], bool]) -> None:
        self.app, self.limits, self.keyed = app, limits, keyed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keyed(scope["path"]):
            return await self.app(scope, receive, send)

        async def count_failures(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.limits.failed(scope)
            await send(message)

        scope[SCOPE_KEY] = self.limits
        await self.app(scope, receive, count_failures)
