"""The command API's entry points: ``app.create_app`` (the composition root: builds the
adapters and injects them), the HTTP route table and request path (``http``), and the
OpenAPI document built from the same table."""
