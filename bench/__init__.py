"""Benchmarks: each module's ``main() -> int`` prints a ratio against a peer run alongside."""
