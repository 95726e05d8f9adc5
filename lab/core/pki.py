"""The lab's PKI: a private CA and one server certificate for the lab's names. Writes files.

Made with `cryptography` (ECDSA P-256, no openssl CLI). Files under ``<run>/pki``: ca.pem,
ca.key, server.pem, server.key and fullchain.pem (server then CA, what Unbound, aioquic and
the web hosts load). The lab world passes its own names; the web hosts, benches and test
fixtures take the defaults: the lab's web names (``*.example.test`` ...), ``localhost`` and
the loopback addresses, so probes can connect to an IP literal with any lab name as SNI.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMES = ("*.example.test", "example.test", "localhost")
DEFAULT_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Pki:
    ca: Path
    """The CA certificate (PEM): the trust anchor tests pass as ``--ca-file``."""
    cert: Path
    """The server certificate alone (PEM)."""
    key: Path
    """The server's private key (PEM, unencrypted)."""
    fullchain: Path
    """Server certificate then CA (PEM), for servers that want the chain in one file."""


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def make_pki(
    directory: Path,
    *,
    dns_names: Sequence[str] = DEFAULT_NAMES,
    ip_addresses: Sequence[str] = DEFAULT_IPS,
) -> Pki:
    """Create the CA and a server certificate whose SANs are ``dns_names`` + ``ip_addresses``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fragscope lab CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        # 825 days: the longest validity clients accept for a server certificate.
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server.key",
        fullchain=directory / "fullchain.pem",
    )
    _write_key(directory / "ca.key", ca_key)
    _write_key(pki.key, key)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    pki.ca.write_bytes(ca_pem)
    pki.cert.write_bytes(cert_pem)
    pki.fullchain.write_bytes(cert_pem + ca_pem)
    return pki
