"""Benchmarks: each module ``bench/<name>.py`` with ``main() -> int`` measures one part
against a peer run in the same process and returns non-zero when it misses its target.
Run them with ``python -m bench`` (all) or ``python -m bench NAME ...``. They do I/O."""
