"""Moved to the test kit (``merchant_testkit.servers``); kept so existing imports work."""

from merchant_testkit.servers import (  # noqa: F401
    ENV_VARS,
    Servers,
    docker_engine_answers,
    from_containers,
    from_environment,
    resolve,
)
