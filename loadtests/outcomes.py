"""What a load run counts as an error (docs/benchmarks.md, "Definitions").

Any answer other than 2xx/304 and the business 409s — ``insufficient_stock`` (out of stock)
and ``invalid_state`` (wrong state: the shop said no, correctly) — is an error, and so is
no answer at all (a timeout or a broken connection, recorded as status 0). So 429 (a rate
limit), 503 (shed or timed out on the server) and the other 409s (``request_in_progress``,
``contended``, ``version_not_yet_visible``...) are errors. Shared by the locustfile, which
judges each answer, and the summary, which reads old records without a per-request verdict.
"""

from __future__ import annotations

BUSINESS_CONFLICTS = frozenset({"insufficient_stock", "invalid_state"})


def is_success_status(status: int) -> bool:
    """2xx or 304: an answer that needs no error code to be judged."""
    return 200 <= status < 300 or status == 304


def is_error(status: int, code: str | None) -> bool:
    """``status`` 0 is no answer; ``code`` is the error body's ``error.code``, if any."""
    if is_success_status(status):
        return False
    return not (status == 409 and code in BUSINESS_CONFLICTS)
