"""The lab's vantages and middleboxes: ``clean``, ``censored``, ``lossy``, ``distant``.

The package describes vantages as data and turns them into the exact ``ip``/``nft``
commands (argv lists, no shell) that build and remove them; only :mod:`runner` and
:mod:`delay` do I/O.

Topology of one non-clean vantage (plan.py draws it in detail)::

    client ns <name>  --veth--  middlebox ns <name>-mb  --veth--  upstream ns (the lab's
    default via mbox            nftables rules, delay TUN        "Internet", e.g. fs-net)

``clean`` is the host itself: nothing is built and ``lab exec clean -- CMD`` runs CMD as is.

Subnet plan (all inside the lab's 10.99.0.0/16 and fd99::/16)
-------------------------------------------------------------
One IPv4 subnet per vantage (at least a /29), split in halves by :func:`layout.make_layout`:
lower half = client LAN (middlebox .1, client .2), upper half = transit link (upstream
first host, middlebox second; or the ``upstream_address`` given). An optional IPv6 subnet
is split the same way.

=============  =================  ===================  ==============================
vantage        IPv4               IPv6                 namespaces (prefix ``fs-``)
=============  =================  ===================  ==============================
censored       10.99.225.0/24     fd99:225::/64        fs-censored, fs-censored-mb
lossy          10.99.226.0/24     fd99:226::/64        fs-lossy, fs-lossy-mb
distant        10.99.227.0/24     fd99:227::/64        fs-distant, fs-distant-mb
=============  =================  ===================  ==============================

(:data:`LAB_SUBNETS` holds this table.) 10.99.224.0/20 is reserved for vantages;
10.99.240.0/20 and fd99:240::/32 belong to this package's own tests, which build a
self-contained topology in namespaces named ``fsv-*`` and never touch ``fs-*``, the
host's interfaces or its routes.

API for the lab integration
---------------------------
- Describe: :func:`model.censored` (``drop=[...]``, ``reject=[...]``, ``reject_with``,
  ``resolver``), :func:`model.lossy` (3 of every 10), :func:`model.distant` (150 ms each
  way), :func:`model.clean`, or :func:`model.vantage_from_mapping` for a TOML table
  (raises :class:`model.VantageError` naming the field: map it to exit code 2).
- Place: :func:`layout.make_layout` ``(name, upstream_ns=..., subnet=..., upstream_address=
  None, subnet6=None, prefix="fs-")``; :func:`lab_layout` uses :data:`LAB_SUBNETS`.
- Commands: :func:`plan.build_commands` ``(vantage, layout)`` and
  :func:`plan.teardown_commands` ``(layout)`` return :class:`plan.Command` objects (argv,
  stdin, check); :func:`plan.relay_argv` ``(layout, delay_ms)`` is the relay process;
  :func:`plan.exec_argv` ``(layout | None, command)`` is ``fragscope lab exec VANTAGE --
  COMMAND`` (``None`` for clean).
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

from lab.vantages.layout import Layout, make_layout
from lab.vantages.model import Action, Block, Kind, Loss, Vantage, VantageError

# The lab's vantage subnets (see the table above): name -> (IPv4, IPv6).
LAB_SUBNETS: dict[str, tuple[str, str]] = {
    "censored": ("10.99.225.0/24", "fd99:225::/64"),
    "lossy": ("10.99.226.0/24", "fd99:226::/64"),
    "distant": ("10.99.227.0/24", "fd99:227::/64"),
}


def lab_layout(name: str, *, upstream_ns: str, ipv6: bool = True) -> Layout:
    """The layout of lab vantage ``name`` on :data:`LAB_SUBNETS`."""
    try:
        v4, v6 = LAB_SUBNETS[name]
    except KeyError:
        raise VantageError(
            f"vantage {name!r}: no lab subnet; known: {', '.join(LAB_SUBNETS)}"
        ) from None
    return make_layout(name, upstream_ns=upstream_ns, subnet=v4, subnet6=v6 if ipv6 else None)


__all__ = [
    "LAB_SUBNETS",
    "Action",
    "Block",
    "Kind",
    "Layout",
    "Loss",
    "Vantage",
    "VantageError",
    "lab_layout",
    "make_layout",
]
