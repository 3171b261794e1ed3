"""What the query API asks of the read models, with no HTTP and no cache in sight: every
query and the filters and sorts the routes send (``queries``), loading one page
(``listing``), cursors (``pagination``), declared parameters (``params``), the fields a
client may see (``read_models``), what a cached page covers (``pages``),
read-your-writes (``freshness``) and range statistics (``stats``)."""
