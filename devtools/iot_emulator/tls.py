"""The wss:// listener's certificates: a CA and a server certificate made at start-up.

AWS IoT Core speaks TLS 1.2 and 1.3 only and refuses connections without the Server Name
Indication extension, whose host name must be the endpoint being called (sources in
docs/emulation.md). The emulated endpoint host is `localhost` (a name, so clients send SNI;
they do not for an IP address); the server refuses a handshake without SNI or with another name.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
import ipaddress
from pathlib import Path
import ssl
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ENDPOINT_HOST: Final = "localhost"
_VALIDITY: Final = dt.timedelta(days=2)


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """PEM files in the emulator's work directory."""

    ca_path: Path
    certificate_path: Path
    key_path: Path

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate clients trust."""
        return self.ca_path.read_bytes()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def create_tls_material(directory: Path) -> TlsMaterial:
    """Create a fresh CA and a server certificate for `localhost` (and 127.0.0.1) signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("konnected_aws IoT emulator CA")
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(ENDPOINT_HOST))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(ENDPOINT_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(
        directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    )
    material.ca_path.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    material.certificate_path.write_bytes(
        server_certificate.public_bytes(serialization.Encoding.PEM)
    )
    material.key_path.write_bytes(_pem(server_key))
    return material


def server_context(material: TlsMaterial) -> ssl.SSLContext:
    """TLS 1.2+; a handshake without SNI, or for another host name, fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(material.certificate_path, material.key_path)

    def require_sni(
        _connection: ssl.SSLObject | ssl.SSLSocket,
        server_name: str | None,
        _context: ssl.SSLContext,
    ) -> int | None:
        if server_name != ENDPOINT_HOST:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    context.sni_callback = require_sni
    return context


def client_context(material: TlsMaterial) -> ssl.SSLContext:
    """Return a client context that trusts the emulator's CA (and nothing else)."""
    context = ssl.create_default_context(cafile=str(material.ca_path))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
