"""A campaign's plan without a run: the tasks a run would start, nothing sent. Reads target files.

``fragscope run --dry-run`` prints these tasks and ``fragscope campaign check`` counts
them per endpoint and namespace; both need the engine's own planning (probe instances,
endpoint selection, explicit namespaces of list lines) and neither may write or send.
"""

from __future__ import annotations

from collections.abc import Sequence

from fragscope.db.writer import Row
from fragscope.probes.engine.campaign import Campaign
from fragscope.probes.engine.planner import WHOLE, Shard
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.safety import NetworkPolicy

DRY_RUN_ID = "00000000-0000-0000-0000-000000000000"


class _NoSink:
    async def put(self, rows: Sequence[Row]) -> None:  # pragma: no cover - never called
        raise AssertionError("planning writes nothing")


def build_policy(campaign: Campaign) -> NetworkPolicy:
    """The network policy a run of ``campaign`` obeys (FRAGSCOPE_ALLOWED_NETS first)."""
    return NetworkPolicy.from_env(
        extra_allowed=campaign.safety.allowed, blocked=campaign.safety.blocked
    )


def planning_runner(
    campaign: Campaign, *, policy: NetworkPolicy, shard: Shard = WHOLE
) -> ShardRunner:
    """A runner whose :meth:`ShardRunner.tasks` is the plan; it has no sink to write to."""
    return ShardRunner(
        campaign,
        run_id=DRY_RUN_ID,
        vantage_id="dry-run",
        sink=_NoSink(),
        policy=policy,
        shard=shard,
        write_targets=False,
    )
