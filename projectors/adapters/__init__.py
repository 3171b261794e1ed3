"""The projection engine's ports, implemented: ``mongo_store`` (MongoDB or a wire-compatible
server: the read-model store and the event history), ``memory_store`` (in-memory twins for
unit tests), ``bulk`` (writers that never move a ``version`` backwards, chosen per server),
the read-model indexes and ``explain``. Store-specific behaviour (FerretDB or MongoDB
quirks) lives here and nowhere above."""
