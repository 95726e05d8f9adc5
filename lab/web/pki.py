"""A throw-away PKI for the lab's web hosts: a CA and one server certificate. Writes files.

Uses ``cryptography`` (no openssl CLI). The server certificate covers the lab's web
names (``*.example.test`` ...), ``localhost`` and the loopback addresses, so probes can
connect to an IP literal with any lab name as SNI.
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
    fullchain: Path
    """Server certificate then CA (PEM), for servers that want the chain in one file."""
    key: Path
    """The server's private key (PEM, unencrypted)."""


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fragscope lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_pki(
    directory: Path,
    *,
    names: Sequence[str] = DEFAULT_NAMES,
    ips: Sequence[str] = DEFAULT_IPS,
    days: int = 30,
) -> Pki:
    """Create ``ca.pem``, ``server.pem``, ``fullchain.pem`` and ``server.key`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fragscope lab CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
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
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    san += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else "lab"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = Pki(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        fullchain=directory / "fullchain.pem",
        key=directory / "server.key",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(pem))
    pki.cert.write_bytes(cert.public_bytes(pem))
    pki.fullchain.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    pki.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pki.key.chmod(0o600)
    return pki
