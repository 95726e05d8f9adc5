"""Rounds across machines: shard jobs on a queue in PostgreSQL, and the workers that run
them (docs/operations.md, "Many machines"). No I/O here; ``queue`` is the only module
that knows the job engine (procrastinate)."""
