"""The decision core of automated support (pure: no I/O, no clock, no randomness)."""
