"""The perturbation catalogue (tests/analysis/lab_perturbations.py) checked on the
derivations alone (issue 19, "One perturbation test per indicator"; no lab, no database).

For each single perturbation, the derived value of every indicator at the censored
vantage is compared with the unperturbed derivation: the targets move, the declared
co-movers (``also``, where definitions overlap: N1 reads every asked name, T6 every
channel) and C2 over its members move, and every other indicator keeps its derived value.
For each batch, no member moves another member's targets, so the one measured round of a
batch (test_lab_indicators.py) attributes each target's move to its own perturbation.
"""

from __future__ import annotations

from functools import cache

import pytest

from fragscope.lab import truth as lab_truth
from fragscope.lab.plan import make_plan
from tests.analysis import lab_expectations as expect
from tests.analysis import lab_perturbations as perturb
from tests.analysis.test_lab_indicators import EXACT, PERTURBED_ELSEWHERE, expected_all

C2_MEMBERS = frozenset(c for codes in expect.PILLARS.values() for c in codes)
BASE = perturb.World(truth=lab_truth.load(), vantages=lab_truth.load().vantages)
PLAN = make_plan(BASE.truth)


def derived(w: perturb.World) -> dict[str, float | None]:
    out = expected_all(w.truth, PLAN, perturb.LABEL, w.vantages, gateway_up=w.gateway_up)
    return {code: value for code, (value, _n) in out.items()}


BEFORE = derived(BASE)


def moved(w: perturb.World) -> set[str]:
    after = derived(w)
    return {c for c in (*EXACT, "N4.apd", "N7.spd") if after[c] != BEFORE[c]}


@cache
def moved_by(key: str) -> frozenset[str]:
    return frozenset(moved(perturb.BY_KEY[key].edit(BASE)))


def test_every_indicator_is_the_target_of_one_perturbation_in_one_batch() -> None:
    targets = [c for p in perturb.CATALOGUE for c in p.targets]
    own = PERTURBED_ELSEWHERE | expect.FOLLOWS_THE_OTHERS
    assert sorted(targets) == sorted(c for c in EXACT if c not in own)
    in_batches = [k for batch in perturb.BATCHES for k in batch]
    assert sorted(in_batches) == sorted(perturb.BY_KEY)


@pytest.mark.parametrize("key", list(perturb.BY_KEY))
def test_a_perturbation_moves_its_targets_and_nothing_undeclared(key: str) -> None:
    p = perturb.BY_KEY[key]
    got = moved_by(key)
    members = set(p.targets) | set(p.also)
    assert set(p.targets) <= got, (key, got)
    # Every other indicator's derivation is unchanged; C2 moves iff a member moved (C1
    # with whatever outcome the perturbation changes).
    assert got - expect.FOLLOWS_THE_OTHERS == members, (key, got)
    assert ("C2" in got) == bool(members & C2_MEMBERS), (key, got)


@pytest.mark.parametrize("batch", perturb.BATCHES, ids=lambda b: "+".join(b))
def test_batch_members_leave_each_others_targets_alone(batch: tuple[str, ...]) -> None:
    together = derived(perturb.apply_all(BASE, batch))
    for key in batch:
        p = perturb.BY_KEY[key]
        for other in batch:
            if other != key:
                assert not set(p.targets) & moved_by(other), (key, other)
        alone = derived(p.edit(BASE))
        for code in p.targets:
            assert together[code] == alone[code], (key, code, together[code], alone[code])
