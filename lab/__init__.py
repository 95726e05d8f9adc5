"""The lab: a mini-Internet of real servers in network namespaces, for tests, demo, bench.

Importing the package does no I/O; ``Lab.up()``/``down()`` need root. docs/lab.md describes
the topology, the components, the truth file and how to add a component.

API (kept small on purpose)::

    from fragscope.lab.truth import load          # the planted facts, typed (one schema)
    from fragscope.lab.world import Lab, LabError

    truth = load()                      # Truth: lab-wide facts + .dns .web .chain .vantages
    lab = Lab("lab-run")                # run directory; Lab(dir, truth) for another truth
    seconds = lab.up()                  # or lab.up(["alt"]): only these groups (+ needs)
    lab.status()                        # [StatusRow(group, service, software, address,
                                        #            port, protocol, running, health)]
    lab.ca_file                         # Path of the lab CA (trust it for DoT/DoH/DoQ)
    lab.down()                          # stop by PID; remove namespace, veth, routes

Where things are: ``truth.dns.resolvers["icann"]`` is the validating Unbound
(``.address``, ``.address6``, ``.udp``/``.tcp`` 53, ``.tls`` 853, ``.https`` 443 +
``.doh_url``); ``truth.dns.resolvers["doq"]`` the DoQ endpoint (``.quic`` 853); ``"alt"``,
``"hns"`` the resolvers of the OpenNIC-like and Handshake-like roots; ``"manip"`` the
manipulating resolver, whose ``.policy`` lists the rewritten and NXDOMAINed names. TLS
clients use ``truth.tls_hostname`` as the server name. ``truth.dns.expected(name, rdtype,
view)`` is the honest answer in a view; ``truth.dns.zone(name, view)`` has ``.dnssec``
(nsec, nsec3, knot, broken, expired, none) and ``.kind`` (served, lame, dead).
``truth.web["www"]`` etc. are the web hosts (``.name``, ``.addresses``, ``.port``,
``.quic_versions``, ``.vn_versions``, ``.alt_svc``, ``.https_alpn``, ``.server_header``;
their A/AAAA/HTTPS records are generated into the zones); ``truth.chain`` has ``.rpc_url``,
``.gateway_url`` and ``.plan`` (names, records and contract addresses, lab/chain/truth.toml),
and ``lab.chain_json`` (run_dir/chain.json) the deployed contract addresses for the naming
probe. ``truth.vantages`` are the vantages (lab/vantages/truth.toml: what each path does:
censored drop/reject hosts and resolver, lossy share, distant delay).

Layout: ``core`` (what components share: processes, ports, PKI, lock, topology, run paths,
service and health-check records, the address guard, the truth's error type, the component
protocol), one subpackage per component (``dns``, ``web``, ``chain``, ``vantages``), and
``truth`` (the one schema), ``world`` (up/status/down over the components), ``commands``
(``fragscope lab``) and ``demo`` (``fragscope demo``). Tests use the ``lab`` session fixture
from tests/fixtures/lab.py.
"""
