"""Correlation ids: taken from the request (``X-Correlation-ID``) or created, and echoed."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request

HEADER = "x-correlation-id"
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def correlation_id(request: Request) -> str:
    supplied = request.headers.get(HEADER, "")
    return supplied if _SAFE.match(supplied) else str(uuid.uuid4())
