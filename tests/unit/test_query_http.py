"""Pagination cursors, parameters and the rate limiter, without servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import QueryParams

from shared.http.errors import ApiError
from shared.http.rate_limit import TokenBuckets

from query_api.adapters.encodings import choose
from query_api.application.pagination import ASC, DESC, CursorCodec, Sort
from query_api.application.params import Param, ParamSet
from query_api.entrypoints.responses import etag_matches


def test_cursor_round_trips_and_rejects_tampering_and_other_queries():
    codec = CursorCodec("secret")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    cursor = codec.encode("newest", "fp1", when, "p-9")
    assert codec.decode(cursor, "newest", "fp1") == (when, "p-9")
    for bad in (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), "x", "a.b.c", ""):
        with pytest.raises(ApiError) as err:
            codec.decode(bad, "newest", "fp1")
        assert err.value.status == 400
    with pytest.raises(ApiError):
        codec.decode(cursor, "name", "fp1")
    with pytest.raises(ApiError):
        codec.decode(cursor, "newest", "fp2")
    with pytest.raises(ApiError):
        CursorCodec("other secret").decode(cursor, "newest", "fp1")


def test_keyset_filter_uses_the_id_as_tie_breaker_and_crosses_type_classes():
    later = ["string", "object", "array", "binData", "objectId", "bool", "date", "timestamp", "regex"]
    assert Sort("price_amount", ASC).after(500, "p-3") == {
        "$or": [
            {"price_amount": {"$gt": 500}},
            {"price_amount": {"$type": later}},
            {"price_amount": 500, "_id": {"$gt": "p-3"}},
        ]
    }
    assert Sort("name_lower", DESC).after("boot", "p-3") == {
        "$or": [
            {"name_lower": {"$lt": "boot"}},
            {"name_lower": {"$type": ["number"]}},
            {"name_lower": None},  # null and missing sort first: last when descending
            {"name_lower": "boot", "_id": {"$lt": "p-3"}},
        ]
    }
    # A missing value: ascending, everything typed follows; descending, only ties do.
    assert Sort("name_lower", ASC).after(None, "p-3")["$or"][0] == {"name_lower": {"$type": ["number", *later]}}
    assert Sort("name_lower", DESC).after(None, "p-3") == {"$or": [{"name_lower": None, "_id": {"$lt": "p-3"}}]}
    assert Sort("created_at", DESC).mongo == [("created_at", -1), ("_id", -1)]


def test_params_parse_and_name_every_bad_field():
    params = ParamSet(
        (
            Param("limit", "integer", "", minimum=1, maximum=100),
            Param("in_stock", "boolean", ""),
            Param("fields", "fields", "", choices=("id", "name")),
        )
    )
    assert params.parse(QueryParams("limit=5&in_stock=true&fields=name,id,name")) == {
        "limit": 5,
        "in_stock": True,
        "fields": ("name", "id"),
    }
    with pytest.raises(ApiError) as err:
        params.parse(QueryParams("limit=0&in_stock=maybe&fields=secret&colour=red"))
    assert {f["field"] for f in err.value.fields} == {"limit", "in_stock", "fields", "colour"}


def test_token_bucket_allows_a_burst_then_limits_then_refills():
    now = [0.0]
    buckets = TokenBuckets(rate=10, burst=3, clock=lambda: now[0])
    assert [buckets.take(b"c") for _ in range(3)] == [0, 0, 0]
    wait = buckets.take(b"c")
    assert wait == pytest.approx(0.1)
    assert buckets.take(b"other") == 0
    now[0] += 0.1
    assert buckets.take(b"c") == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"gzip, deflate, br", "br"),
        (b"gzip, deflate", "gzip"),
        (b"zstd, gzip", "zstd"),
        (b"br;q=1.0, gzip;q=0.8", "br"),
        (b"br;q=0.5, gzip;q=0.8", "gzip"),
        (b"br;q=0.5, zstd;q=0.9, gzip;q=0.8", "zstd"),
        (b"gzip;q=0", None),
        (b"br;q=0, gzip", "gzip"),
        (b"identity", None),
        (b"*", "br"),
        (b"*;q=0.1, gzip;q=0.5", "gzip"),
        (b"*, br;q=0", "zstd"),
        (b"GZIP;Q=1", "gzip"),
        (b"gzip;q=0.4, identity;q=0.9", None),
        (b"gzip;q=abc", None),
        (b"", None),
        (None, None),
        (b"deflate, compress", None),
    ],
)
def test_accept_encoding_negotiation_respects_q_values(header, expected):
    assert choose(header) == expected


def test_etag_matching_is_weak_and_accepts_lists_and_star():
    assert etag_matches(b'"a", W/"b"', b'W/"b"')
    assert etag_matches(b"*", b'W/"b"')
    assert not etag_matches(b'W/"c"', b'W/"b"')


def test_a_list_of_choices_is_canonical_and_names_the_unknown_ones():
    params = ParamSet((Param("status", "enums", "", choices=("placed", "paid", "shipped")),))
    assert params.parse(QueryParams("status=shipped,paid,shipped")) == {"status": ("paid", "shipped")}
    assert params.parse(QueryParams("status=paid")) == {"status": ("paid",)}
    with pytest.raises(ApiError) as err:
        params.parse(QueryParams("status=paid,lost"))
    assert "lost" in err.value.fields[0]["message"]
    with pytest.raises(ApiError):
        params.parse(QueryParams("status=,"))


@pytest.mark.parametrize(
    "accept, body, vary, expected",
    [
        (None, b"x" * 2000, None, b"Accept-Encoding"),  # identity asked: still varies
        ("gzip", b"{}", None, b"Accept-Encoding"),  # too small to compress: still varies
        ("gzip", b"x" * 2000, None, b"Accept-Encoding"),  # compressed
        ("br", b"{}", b"Authorization", b"Authorization, Accept-Encoding"),  # kept and extended
        ("br", b"{}", b"Accept-Encoding, Authorization", b"Accept-Encoding, Authorization"),  # not twice
    ],
)
async def test_every_answer_that_could_be_compressed_varies_on_accept_encoding(accept, body, vary, expected):
    from query_api.entrypoints.http.compression import CompressionMiddleware

    async def app(scope, receive, send):
        headers = [(b"content-type", b"application/json")] + ([(b"vary", vary)] if vary else [])
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"accept-encoding", accept.encode())] if accept else [],
    }
    await CompressionMiddleware(app)(scope, None, send)
    assert [v for k, v in sent[0]["headers"] if k == b"vary"] == [expected]
