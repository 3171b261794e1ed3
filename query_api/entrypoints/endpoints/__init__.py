"""HTTP endpoints of the query API."""
