"""What the docs claim, checked against the code: a claim that stops being true fails here."""

from __future__ import annotations

import re
from pathlib import Path

from redis.crc import key_slot

from query_api.adapters.cache.epochs import generation_keys, id_tag

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_redis_cluster_is_claimed_only_if_one_l2_read_stays_in_one_hash_slot():
    """An L2 read is one MGET of the entry and its generation counters (``L2Cache.get``);
    Redis Cluster refuses a multi-key command across hash slots."""
    reads = [
        (id_tag("catalog_products", "p-1"), "product:p-1"),
        (("catalog_products", "m-1"), "products:m-1"),
    ]
    one_slot = all(len({key_slot(k.encode()) for k in (*generation_keys(tag), f"qc:{key}")}) == 1 for tag, key in reads)
    claims = [
        f"{doc.relative_to(ROOT)}: {sentence}"
        for doc in DOCS
        for sentence in sentences(doc.read_text())
        if re.search(r"redis cluster", sentence, re.I) and not re.search(r"not supported", sentence, re.I)
    ]
    assert one_slot or not claims, claims


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))]
