"""The command API's entry points: ``app`` (``create_app``, which runs the ``CommandSide``
of ``command_api.bootstrap``), the HTTP route table and request path (``http``), and the
OpenAPI document built from the same table."""
