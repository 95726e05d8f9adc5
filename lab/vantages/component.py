"""The vantages component: censored, lossy and distant, built on the lab namespace after its
services answer (censored needs the web hosts and the manipulating resolver).

Does I/O through lab.vantages.runner (``ip``/``nft`` commands, the delay relay). The
vantages are not daemons of the lab namespace, so this component has no Service records:
``lab status`` shows one "path" row per vantage instead, its address the client's.
"""

from __future__ import annotations

from fragscope.lab.core.component import Component, LabError, Site, StatusRow
from fragscope.lab.core.topology import NAMESPACE
from fragscope.lab.vantages import runner
from fragscope.lab.vantages.model import VantageError
from fragscope.lab.vantages.runner import VantageBuildError

GROUP = "vantages"


class VantagesComponent(Component):
    name = "vantages"

    def after_start(self, site: Site, groups: set[str]) -> None:
        if GROUP not in groups:
            return
        try:
            runner.up_lab(site.truth.vantages, run_dir=site.paths.vantages, upstream_ns=NAMESPACE)
        except (VantageBuildError, VantageError) as exc:
            raise LabError(f"building the vantages: {exc}") from exc

    def status(self, site: Site, *, network_up: bool) -> list[StatusRow]:
        return [
            StatusRow(
                group=GROUP,
                service=v.name,
                software=v.mechanism,
                address=v.client,
                port=0,
                protocol="path",
                running=network_up and v.running,
                health=v.health if network_up else "down",
            )
            for v in runner.status_lab(
                site.truth.vantages, run_dir=site.paths.vantages, upstream_ns=NAMESPACE
            )
        ]

    def down(self, site: Site) -> list[str]:
        runner.down_lab(run_dir=site.paths.vantages, upstream_ns=NAMESPACE)
        return []
