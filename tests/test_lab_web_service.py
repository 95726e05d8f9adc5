"""lab.web.service: the web hosts as lab Services; their health checks pass on the real hosts."""

from __future__ import annotations

from pathlib import Path

from lab.web.hosts import WebHost
from lab.web.service import HttpsCheck, QuicVnCheck, as_service
from tests.fixtures.web_hosts import WebLab


def _run(check: HttpsCheck | QuicVnCheck, lab: WebLab, address: str, port: int) -> bool:
    result = check.run(
        address=address,
        port=port,
        protocol="https",
        ca_file=str(lab.pki.ca),
        tls_hostname="www.example.test",
        timeout=3.0,
    )
    return result.ok


def test_every_listener_check_passes(web_lab: WebLab, tmp_path: Path) -> None:
    for name, host in web_lab.hosts.items():
        service = as_service(host, log=tmp_path / f"{name}.log")
        assert service.name == f"web-{name}" and service.argv[-len(host.argv) :] == host.argv
        for listener in service.listeners:
            assert listener.check is not None
            result = listener.check.run(
                address=listener.address,
                port=listener.port,
                protocol=listener.protocol,
                ca_file=str(web_lab.pki.ca),
                tls_hostname="www.example.test",
                timeout=3.0,
            )
            assert result.ok, (name, listener, result.detail)


def test_checks_fail_on_the_wrong_facts(web_lab: WebLab) -> None:
    h3: WebHost = web_lab.hosts["h3"]
    address, port = web_lab.addr("h3")
    assert not _run(HttpsCheck(alt_svc=None, server=h3.server), web_lab, address, port)
    assert not _run(QuicVnCheck(must_list=(0xFF00001D,)), web_lab, address, port)
    caddy_address, caddy_port = web_lab.addr("caddy")
    assert _run(QuicVnCheck(must_list=(1, 0xFF00001D)), web_lab, caddy_address, caddy_port)
    assert not _run(QuicVnCheck(), web_lab, *web_lab.addr("advertised"))
    assert not _run(HttpsCheck(alt_svc=None, server=None), web_lab, "192.0.2.1", 443)


def test_launch_writes_config_at_start(web_lab: WebLab, tmp_path: Path) -> None:
    from lab.web import hosts, runner
    from tests.fixtures.web_hosts import free_port

    address = "127.77.8.7"
    specs = [
        hosts.hypercorn_h3(
            address, free_port([address]), web_lab.pki.cert, web_lab.pki.key, tmp_path
        ),
        hosts.caddy(
            "127.77.8.8", free_port(["127.77.8.8"]), web_lab.pki.cert, web_lab.pki.key, tmp_path
        ),
    ]
    running = [runner.start(h, via_launch=True) for h in specs]
    try:
        runner.wait_ready(running)
        for h in specs:
            service = as_service(h, log=tmp_path / "x.log")
            assert service.argv[:3] == (service.argv[0], "-m", "lab.web.launch")
            assert all((h.run_dir / rel).is_file() for rel in h.files)
            for lst in service.listeners:
                assert lst.check is not None
                res = lst.check.run(
                    address=lst.address,
                    port=lst.port,
                    protocol=lst.protocol,
                    ca_file=str(web_lab.pki.ca),
                    tls_hostname="www.example.test",
                    timeout=3.0,
                )
                assert res.ok, res.detail
        # exec replaced the launcher: the PID we hold is the server's.
        assert all(str(r.pid) for r in running)
    finally:
        for r in running:
            runner.stop(r)
