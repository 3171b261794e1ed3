"""The merchant backend's test kit: a pytest plugin and helpers for downstream suites.

Installed with the package, the plugin (``merchant_testkit.plugin``) is loaded by pytest
automatically; see docs/testing.md for the fixtures and an example.
"""

from merchant_testkit.events import PublishedEvents
from merchant_testkit.stack import Stack, start_stack
from merchant_testkit.waiting import NotReached, wait_for_projection, wait_until

__all__ = ["NotReached", "PublishedEvents", "Stack", "start_stack", "wait_for_projection", "wait_until"]
