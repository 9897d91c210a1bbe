"""``colla certs``: a CA and HAProxy's two certificates, made with ``cryptography`` when
the operator brings none. A certificate colla's CA did not sign is the operator's:
colla checks it (colla.certs) and never replaces it.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from colla.certs import (
    WARN_DAYS,
    CertInfo,
    CertPaths,
    cert_paths,
    check_bundle,
    load_ca,
    now_utc,
    public_der,
    read_file,
    trusted_ca,
)
from colla.config.passwords import write_atomically
from colla.errors import BadInput
from colla.site import Site

CA_DAYS = 3650
LEAF_DAYS = 365
_KEY_TYPES = (ec.EllipticCurvePrivateKey,)


def wanted_names(site: Site) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names (DNS names and addresses) each certificate must carry: internal (the
    internal FQDN and VIP, every host's name and API address) and external (the
    external FQDN and VIP, the internal ones when none is given)."""
    g = site.project.globals
    topology = site.topology
    internal = [g.kolla_internal_fqdn or topology.internal_address, topology.internal_address]
    for host in site.project.inventory.hosts.values():
        internal += [host.name, topology.api_address.get(host.name, host.address)]
    vip = g.kolla_external_vip_address or topology.internal_address
    external = [g.kolla_external_fqdn or vip, vip]
    return _unique(internal), _unique(external)


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_ca(now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new CA: its certificate (10 years) and key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "colla CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: Sequence[str],
    now: datetime.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server certificate for ``names`` (the first is its common name), signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data, mode)


def ensure_certificates(site: Site, renew: bool = False) -> list[str]:
    """Make what is missing: the CA, then each bundle. A bundle colla's CA signed is
    renewed when asked, within WARN_DAYS of its expiry (or past it), or when it lacks a
    name the site now implies. Certificates the operator brings (with
    kolla_admin_openrc_cacert, their CA) are left to check_certificates. Every existing bundle is
    checked before anything is made: a bad one changes nothing. A line per action."""
    paths = cert_paths(site.config_dir, site.project.globals)
    if site.project.globals.kolla_admin_openrc_cacert:
        where = trusted_ca(site.config_dir, site.project.globals, paths)
        return [f"the operator's certificates, signed by {where}: none made, only checked"]
    now = now_utc()
    ca = load_ca(paths.ca_cert)
    found: dict[Path, CertInfo] = {}
    for path in (paths.internal, paths.external):
        if not path.exists():
            continue
        if ca is None:
            raise BadInput(
                f"{path}: a certificate without colla's CA; set kolla_admin_openrc_cacert "
                "to the CA that signed it"
            )
        found[path] = check_bundle(path, ca, now, dated=False)
    done: list[str] = []
    if ca is None:
        if paths.ca_key.exists():
            raise BadInput(f"{paths.ca_key}: a CA key without its certificate; nothing made")
        ca, ca_key = make_ca(now)
        _write(paths.ca_key, _pem_key(ca_key), 0o600)
        _write(paths.ca_cert, ca.public_bytes(serialization.Encoding.PEM), 0o644)
        done.append(f"made the CA {paths.ca_cert}")
    internal, external = wanted_names(site)
    for path, names in ((paths.internal, internal), (paths.external, external)):
        reason = _renewal(found.get(path), names, now, renew)
        if reason is None:
            done.append(f"kept {path}")
            continue
        cert, key = make_leaf(ca, _ca_key(paths, ca), names, now)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        _write(path, pem + ca.public_bytes(serialization.Encoding.PEM) + _pem_key(key), 0o600)
        done.append(f"made {path} ({reason}): {', '.join(names)}")
    return done


def _ca_key(paths: CertPaths, ca: x509.Certificate) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(read_file(paths.ca_key), password=None)
    except ValueError as e:
        raise BadInput(f"{paths.ca_key}: unreadable private key ({e})") from None
    if not isinstance(key, _KEY_TYPES) or public_der(key.public_key()) != public_der(
        ca.public_key()
    ):
        raise BadInput(f"{paths.ca_key}: does not match the CA {paths.ca_cert}")
    return key


def _renewal(
    info: CertInfo | None, names: Sequence[str], now: datetime.datetime, renew: bool
) -> str | None:
    """Why colla remakes a bundle (``info``: the existing one, checked); None to keep it."""
    if info is None:
        return "missing"
    if renew:
        return "--renew"
    if info.not_after - now < datetime.timedelta(days=WARN_DAYS):
        return f"expires {info.not_after:%Y-%m-%d}"
    missing = set(names) - set(info.names)
    if missing:
        return f"now also {', '.join(sorted(missing))}"
    return None
