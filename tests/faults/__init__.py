"""Fault injection: the run under a full disk, kills, signals, locks and damaged files
(issue 18). Every test here is marked slow and runs in ``make test``."""
