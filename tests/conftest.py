"""The suite's fixtures come from the test kit (``merchant_testkit.plugin``), the same
pytest plugin downstream suites get: ``servers``, ``namespace``, ``server_env``,
``settings``, ``mongo_db``, ``stack``, ``merchant``, ``command_client``,
``query_client``, ``published_events``, ``wait_for_projection``. Unit tests use none of
the server fixtures.
"""
