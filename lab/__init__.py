"""The lab: a mini-Internet of real servers in network namespaces, for tests, demo, bench.

Importing the package does no I/O; ``Lab.up()``/``down()`` need root.

API (kept small on purpose)::

    from fragscope.lab.truth import load          # the planted facts (lab/truth.toml), typed
    from fragscope.lab.world import Lab, LabError

    truth = load()                      # Truth: .zones, .roots, .resolvers, .servers, ...
    lab = Lab("lab-run")                # run directory; Lab(dir, truth) for another truth
    seconds = lab.up()                  # or lab.up(["alt"]): only these groups (+ needs)
    lab.status()                        # [StatusRow(group, service, software, address,
                                        #            port, protocol, running, health)]
    lab.ca_file                         # Path of the lab CA (trust it for DoT/DoH/DoQ)
    lab.down()                          # stop by PID; remove namespace, veth, routes

Where things are: ``truth.dns.resolvers["icann"]`` is the validating Unbound (``.address``,
``.address6``, ``.udp``/``.tcp`` 53, ``.tls`` 853, ``.https`` 443 + ``.doh_url``);
``truth.dns.resolvers["doq"]`` the DoQ endpoint (``.quic`` 853); ``"alt"``, ``"hns"`` the
resolvers of the OpenNIC-like and Handshake-like roots; ``"manip"`` the manipulating
resolver, whose ``.policy`` lists the rewritten and NXDOMAINed names. TLS clients use
``truth.tls_hostname`` as the server name. ``truth.dns.expected(name, rdtype, view)`` is the
honest answer in a view; ``truth.dns.zone(name, view)`` has ``.dnssec`` (nsec, nsec3, knot,
broken, expired, none) and ``.kind`` (served, lame, dead).

Part 2: ``truth.web["www"]`` etc. are the web hosts (``.name``, ``.addresses``, ``.port``,
``.quic_versions``, ``.vn_versions``, ``.alt_svc``, ``.https_alpn``, ``.server_header``;
their A/AAAA/HTTPS records are generated into the zones); ``truth.chain`` has ``.rpc_url``
and ``.gateway_url``, and ``lab.chain_json`` (run_dir/chain.json) the deployed contract
addresses (ENS registry, UNS registry and ProxyReader) for the naming probe; the names and
records are ``truth.chain.facts()`` (lab/chain/truth.toml). The vantages (what each
path does: censored drop/reject hosts and resolver, lossy share, distant delay) are
``lab.vantages.facts.load()`` (lab/vantages/truth.toml). Groups ``web``, ``chain`` and
``vantages`` start with the rest or alone (``--only``; ``vantages`` brings web and manip).

Pieces: truth (facts), render (zones, configs from lab/templates/), dnssec (BIND signing
tools), pki (CA + server certificate), topology (namespace fs-net, veth fs-h0, address
plan), services (Service records), process (start/stop by PID), health (real queries),
doq (the DoQ server), world (up/status/down), commands (``fragscope lab``); web (the
web hosts, part 2) and chain (the Ethereum chain, part 2) are components the lab starts
through part2 (their Service records and the chain deploy step) with health_web's TLS,
QUIC, JSON-RPC and HTTP checks.
Tests use the ``lab`` session fixture from tests/fixtures/lab.py.
"""
