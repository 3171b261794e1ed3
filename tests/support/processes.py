"""Moved to the test kit (``merchant_testkit.processes``); kept so existing imports work."""

from merchant_testkit.processes import Service, free_port, http_service, stream_service  # noqa: F401
