"""ApiKeysPort (with the resolver authentication uses): keys returned once, stored hashed,
revoked by rotation, on every adapter."""

from __future__ import annotations

import uuid


async def test_issued_keys_resolve_to_their_merchant_and_kind(backend):
    merchant = str(uuid.uuid4())
    keys = await backend.api_keys.issue(merchant, ["secret", "publishable"])
    assert keys["secret"].startswith("sk_") and keys["publishable"].startswith("pk_")
    secret = await backend.resolver.resolve(keys["secret"])
    assert (secret.merchant_id, secret.kind) == (merchant, "secret")
    assert (await backend.resolver.resolve(keys["publishable"])).kind == "publishable"
    assert await backend.resolver.resolve("sk_not_a_key") is None
    assert await backend.api_keys.has_keys(merchant) and not await backend.api_keys.has_keys(str(uuid.uuid4()))


async def test_rotation_revokes_the_other_keys_of_that_kind(backend):
    merchant = str(uuid.uuid4())
    old = await backend.api_keys.issue(merchant, ["secret", "publishable"])
    new = await backend.api_keys.issue(merchant, ["secret"])
    await backend.api_keys.revoke_all_but(merchant, ["secret"], list(new.values()))
    assert await backend.resolver.resolve(old["secret"]) is None
    assert (await backend.resolver.resolve(new["secret"])).merchant_id == merchant
    assert (await backend.resolver.resolve(old["publishable"])).kind == "publishable"  # another kind: kept
