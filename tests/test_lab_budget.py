"""lab/budget.py: each vantage's campaign gets the attempts that keep its planted loss
out of a round's values (docs/lab.md, "Loss, delay and exact values"). No lab, no I/O."""

from __future__ import annotations

import pytest

from fragscope.lab import budget, plan
from fragscope.lab import truth as lab_truth


@pytest.mark.parametrize("vantage", plan.VANTAGES)
def test_loss_fails_no_kind_of_task_in_more_than_one_round_in_a_thousand(vantage: str) -> None:
    t = lab_truth.load()
    p = plan.make_plan(t)
    v = t.vantages[vantage]
    naming = plan.naming_endpoints(t, p, vantage)
    b = plan.vantage_budget(v, p, naming)
    loss = budget.loss_rate(v)
    dns_queries = (len(p.asked) + 1) * len(plan.QTYPES) * 2
    lookups = sum(len(ep.names) for ep in naming)
    per_round = {
        "dns.query": dns_queries * loss**b.dns_attempts,
        "naming.resolve": lookups * budget.lookup_failure(loss) ** b.naming_attempts,
        "transport": (len(p.pins) + 1) * (loss**2) ** b.transport_attempts,
        "path.udp443": 5 * len(p.pins) * loss**b.path_tries,
        "transport.quic_vn": (len(p.pins) + 1) * loss**b.vn_attempts,
    }
    assert all(x <= budget.ROUND_FLAKE_BUDGET for x in per_round.values()), per_round
    assert min(b.dns_attempts, b.naming_attempts, b.transport_attempts) >= 3  # retries >= 2
    if loss:
        # Three attempts would not do: 126 queries at 0.3**3 lose one in almost every round.
        assert dns_queries * loss**3 > 1.0 and b.dns_attempts > 3
    # A slower path gets a longer deadline: two round trips per connection of a lookup.
    rtt = 2 * v.delay_ms / 1000
    assert b.naming_deadline_s >= budget.BASE_DEADLINE_S + budget.CONNECTIONS_PER_LOOKUP * 2 * rtt


def test_attempts_needed_is_the_least_that_fits() -> None:
    assert budget.attempts_needed(0.0, 1000) == budget.MIN_ATTEMPTS
    k = budget.attempts_needed(0.3, 126)
    assert 126 * 0.3**k <= 1e-3 < 126 * 0.3 ** (k - 1)
    with pytest.raises(ValueError, match="per-attempt failure"):
        budget.attempts_needed(1.0, 1)
