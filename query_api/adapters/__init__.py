"""The query API's adapters: the two-level cache (``cache``: L1 in process, L2 Redis,
invalidated by the projectors' signals), the content encoders every cached entry is built
with (``encodings``: br, zstd, gzip) and the indexes the reads rely on."""
