"""Load tests and benchmark harnesses (run by hand or by ``make bench-*``, never in CI)."""
