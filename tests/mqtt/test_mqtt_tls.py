"""mqtts:// with a private CA and client credentials against mosquitto."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mqtt_helpers import site_yaml

pytestmark = pytest.mark.mosquitto


def _cert(subject: str, key, issuer_cert=None, issuer_key=None, ca=False):
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        import ipaddress
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write(path, cert=None, key=None):
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


async def test_mqtts_with_private_ca(tmp_path, mosquitto_factory, host_factory, watcher_factory):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("gemhost test CA", ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("127.0.0.1", srv_key, ca, ca_key)
    ca_file = _write(tmp_path / "ca.pem", ca)
    broker = await mosquitto_factory(
        f"cafile {ca_file}\ncertfile {_write(tmp_path / 'srv.pem', srv)}\n"
        f"keyfile {_write(tmp_path / 'srv.key', key=srv_key)}\n")
    tls = f"  tls: {{ca_file: {ca_file}, verify: true}}"
    host = await host_factory(site_yaml(f"mqtts://user:hunter2@127.0.0.1:{broker.port}", extra_mqtt=tls))
    await host.bridge.connected.wait()
    assert host.bridge.stats() == {"queue_depth": 0, "dropped": 0}
    # the password of the URL is nowhere in what the host shows
    assert "hunter2" not in repr(host.site.mqtt) and "hunter2" not in host.bridge.where()
