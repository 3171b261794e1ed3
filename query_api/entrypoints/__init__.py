"""The query API's entry points: ``app.create_app`` (the composition root), the endpoints,
the pure-ASGI middleware (``http``), how a cached entry is sent (``responses``) and the
OpenAPI document built from the same parameter declarations."""
