"""What production mode refuses to start with.

``MERCHANT_ENV=production`` (``merchant serve --prod``) turns two conveniences of
development into start-up errors, so an unsafe deployment never takes traffic:

- an **open ops surface**: an ops listener (``/metrics``, ``/ops/*``; the workers'
  ``/ops/jobs``) bound to an address other than loopback while ``MERCHANT_OPS_TOKEN`` is
  empty — anyone who reaches it could read business figures and start tracemalloc;
- a **published secret**: the query API's cursor secret left at its development default
  (or shorter than 16 characters) — whoever knows it can sign cursors.

Failure mode: ``UnsafeConfiguration`` is raised while the app is built, naming every
problem and the setting that fixes it; the process exits before binding its public port.
Development mode only logs nothing and goes on: these defaults are what make ``make run``
work with no configuration.
"""

from __future__ import annotations

import ipaddress

from shared.observability.settings import ObservabilitySettings

DEV_CURSOR_SECRET = "dev-cursor-secret-change-me"
MIN_SECRET_LENGTH = 16


class UnsafeConfiguration(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def open_ops_surface(what: str, host: str, port: int, token: str) -> list[str]:
    """The problem, if ``what`` would serve its ops surface unguarded beyond this machine."""
    if not port or token or is_loopback(host):
        return []
    return [f"{what} would serve its ops surface on {host}:{port} without a token: set MERCHANT_OPS_TOKEN"]


def weak_cursor_secret(secret: str) -> list[str]:
    if secret == DEV_CURSOR_SECRET or len(secret) < MIN_SECRET_LENGTH:
        return [
            "the cursor secret is the published development default or too short: "
            f"set QUERY_API_CURSOR_SECRET to a random string of {MIN_SECRET_LENGTH}+ characters"
        ]
    return []


def refuse_unsafe(settings: ObservabilitySettings, problems: list[str]) -> None:
    """Raise in production when there is any problem; development goes on."""
    if settings.production and problems:
        raise UnsafeConfiguration("production mode refuses to start: " + "; ".join(problems))
