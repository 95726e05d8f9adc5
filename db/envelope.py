"""The envelope: the columns every observation table shares, in their documented order. No I/O.

db.models.ObservationMixin declares them (docs/architecture.md §4); this order is the one the
schema reference lists them in and the row builders take them in.
"""

from __future__ import annotations

ENVELOPE = (
    "id",
    "run_id",
    "vantage_id",
    "task_key",
    "attempt",
    "probe",
    "probe_version",
    "target",
    "endpoint",
    "started_at",
    "duration_ms",
    "failure",
    "failed_operation",
    "failure_detail",
)
