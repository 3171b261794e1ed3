"""MongoDB for the projectors: writers that never move a ``version`` backwards (``bulk``,
chosen per server), the derived read models recomputed from their sources (``derived``),
the read-model indexes and ``explain``. Store-specific behaviour (FerretDB or MongoDB
quirks) lives here and nowhere above."""
