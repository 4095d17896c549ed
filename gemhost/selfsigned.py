"""Throw-away self-signed certificates for the vendor simulators' HTTPS.

Real cameras, NVRs and HikCentral servers ship self-signed certificates, which is why the
drivers tolerate them by default; the simulators reproduce exactly that. Generated with
``cryptography`` at start, so no key material lives in the repository. Shared by every
simulator (third-party ones included).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_self_signed(folder: Path, host: str = "127.0.0.1", common_name: str = "gemhost simulator",
                      ) -> tuple[Path, Path]:
    """Write cert.pem and key.pem for ``host`` (plus localhost) into ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    moment = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - dt.timedelta(minutes=5))
            .not_valid_after(moment + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class SelfSignedTLS:
    """Owns a temporary folder with the certificate; ``context`` is the server SSL context."""

    def __init__(self, host: str = "127.0.0.1", common_name: str = "gemhost simulator") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="gemhost-sim-tls-")
        self.cert_file, key_file = write_self_signed(Path(self._tmp.name), host, common_name)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert_file, key_file)

    def cleanup(self) -> None:
        self._tmp.cleanup()
