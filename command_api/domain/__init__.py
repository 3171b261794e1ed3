"""Pure aggregates: no I/O. They check invariants and record pending events."""
