"""The lab's vantages and middleboxes: ``clean``, ``censored``, ``lossy``, ``distant`` and
the DPI censors ``dpi-inline`` and ``dpi-residual`` (lab.dpi).

The package describes vantages as data and turns them into the exact ``ip``/``nft``
commands (argv lists, no shell) that build and remove them; only :mod:`runner` and
:mod:`delay` do I/O.

Topology of one non-clean vantage (plan.py draws it in detail)::

    client ns fs-v-<name>  --veth--  middlebox ns fs-m-<name>  --veth--  upstream ns
    default via middlebox            nftables rules, delay TUN           (fs-net)

``clean`` is the host itself: nothing is built and ``lab exec clean -- CMD`` runs CMD as is.

Subnet plan (inside the lab's 10.99.0.0/16 and fd99::/16)
---------------------------------------------------------
The lab (lab/core/topology.py) reserves 10.99.128.0/18 and fd99:8000::/33 for vantage links.
Vantage number i (censored 0, lossy 1, distant 2, dpi-inline 3, dpi-residual 4) takes one
/29 there, which :func:`layout.make_layout` splits into two /30 links, exactly lab.core.topology's
``transit_link(2i)`` and ``transit_link(2i + 1)``: the lower /30 joins client and
middlebox (client .1, middlebox .2), the upper /30 joins middlebox and upstream
(middlebox .1, fs-net .2; or the ``upstream_address`` given). IPv6 likewise: a /63 split
into two /64s (::1 and ::2 on each). The upstream namespace routes the client link back via
the middlebox.

=========  ===============  ======================  ===============================
vantage    IPv4 (/29)       IPv6 (/63)              namespaces
=========  ===============  ======================  ===============================
censored   10.99.128.0/29   fd99:8000::/63          fs-v-censored, fs-m-censored
lossy      10.99.128.8/29   fd99:8000:0:2::/63      fs-v-lossy, fs-m-lossy
distant    10.99.128.16/29  fd99:8000:0:4::/63      fs-v-distant, fs-m-distant
dpi-inline 10.99.128.24/29  fd99:8000:0:6::/63      fs-v-dpi-inline, fs-m-dpi-inline
dpi-resid. 10.99.128.32/29  fd99:8000:0:8::/63      fs-v-dpi-residual, fs-m-dpi-residual
=========  ===============  ======================  ===============================

(:data:`LAB_SUBNETS` holds this table.) This package's own tests build a self-contained
topology in namespaces named ``fsv-*`` on 10.99.240.0/20 and fd99:240::/32 (the services
on the loopback of ``fsv-upstream``); they never touch ``fs-*``, the host's interfaces or
its routes, and as those namespaces are isolated they cannot collide with the lab.

API for the lab integration
---------------------------
- Describe: :func:`model.censored` (``drop=[...]``, ``reject=[...]``, ``reject_with``,
  ``resolver``), :func:`model.lossy` (3 of every 10), :func:`model.distant` (150 ms each
  way), :func:`model.clean`, or :func:`model.vantage_from_mapping` for a TOML table
  (raises :class:`model.VantageError` naming the field: map it to exit code 2).
- Place: :func:`layout.make_layout` ``(name, upstream_ns=..., subnet=..., upstream_address=
  None, subnet6=None, prefix="fs-")``; :func:`lab_layout` ``(name, upstream_ns="fs-net")``
  uses :data:`LAB_SUBNETS`.
- Commands: :func:`plan.build_commands` ``(vantage, layout)`` and
  :func:`plan.teardown_commands` ``(layout)`` return :class:`plan.Command` objects (argv,
  stdin, check); :func:`plan.relay_argv` ``(layout, delay_ms)`` is the relay process;
  :func:`plan.exec_argv` ``(layout | None, command)`` runs a command at a vantage
  (``None`` for clean); :func:`lab_exec_argv` ``(name, command)`` is the whole of
  ``fragscope lab exec VANTAGE -- COMMAND`` for the lab's vantages, and
  :data:`commands.exec_command` is that click command, ready for
  ``lab_group.add_command(exec_command)``.
- Or let :func:`runner.up` ``(vantage, layout, run_dir=...)`` run all of it (clearing a
  stale copy first, writing ``/etc/netns/<client>/resolv.conf`` with the vantage's
  resolver, starting the relay and recording its PID in ``run_dir``), and
  :func:`runner.down` ``(layout, run_dir=...)`` undo it (stops the relay by PID, deletes
  both namespaces; idempotent).
- The upstream namespace must exist before ``up`` and needs nothing else: the plan adds
  its veth end, its transit address and the route back to the client LAN. Its services
  are reached from the client through the middlebox's default route.
"""

from __future__ import annotations

from collections.abc import Sequence

from fragscope.lab.vantages import plan
from fragscope.lab.vantages.layout import Layout, make_layout
from fragscope.lab.vantages.model import Action, Block, Kind, Loss, Vantage, VantageError

# The lab's vantage subnets (see the table above): name -> (IPv4, IPv6).
LAB_SUBNETS: dict[str, tuple[str, str]] = {
    "censored": ("10.99.128.0/29", "fd99:8000::/63"),
    "lossy": ("10.99.128.8/29", "fd99:8000:0:2::/63"),
    "distant": ("10.99.128.16/29", "fd99:8000:0:4::/63"),
    "dpi-inline": ("10.99.128.24/29", "fd99:8000:0:6::/63"),
    "dpi-residual": ("10.99.128.32/29", "fd99:8000:0:8::/63"),
}
# The vantages that are the host itself (kind clean: no namespace, no middlebox): the
# control, and the host asking the OpenNIC-like root's resolver (lab/vantages/truth.toml).
HOST_VANTAGES: tuple[str, ...] = ("clean", "altroot")


def lab_layout(name: str, *, upstream_ns: str = "fs-net", ipv6: bool = True) -> Layout:
    """The layout of lab vantage ``name`` on :data:`LAB_SUBNETS`."""
    try:
        v4, v6 = LAB_SUBNETS[name]
    except KeyError:
        raise VantageError(
            f"vantage {name!r}: no lab subnet; known: {', '.join(LAB_SUBNETS)}"
        ) from None
    return make_layout(name, upstream_ns=upstream_ns, subnet=v4, subnet6=v6 if ipv6 else None)


def lab_exec_argv(vantage: str, command: Sequence[str]) -> list[str]:
    """argv for ``fragscope lab exec VANTAGE -- COMMAND``: COMMAND itself for a host vantage
    (``clean``, ``altroot``), else COMMAND inside the vantage's client namespace
    (``fs-v-<name>``). Raises :class:`VantageError` for an unknown vantage (exit code 2)."""
    if vantage in HOST_VANTAGES:
        return plan.exec_argv(None, command)
    if vantage not in LAB_SUBNETS:
        known = ", ".join([*HOST_VANTAGES, *LAB_SUBNETS])
        raise VantageError(f"vantage {vantage!r}: unknown; known: {known}")
    return plan.exec_argv(lab_layout(vantage), command)


__all__ = [
    "HOST_VANTAGES",
    "LAB_SUBNETS",
    "Action",
    "Block",
    "Kind",
    "Layout",
    "Loss",
    "Vantage",
    "VantageError",
    "lab_exec_argv",
    "lab_layout",
    "make_layout",
]
