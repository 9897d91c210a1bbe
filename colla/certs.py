"""``colla certs``: a CA and HAProxy's certificates, made with ``cryptography`` when the
operator brings none, and every certificate checked: its key, its expiry, its signer.

Layout (kolla-ansible's names, under ``kolla_certificates_dir``): ``ca/root.crt`` and
``ca/root.key``; ``haproxy.pem`` (external) and ``haproxy-internal.pem`` (internal),
each the certificate, the CA's and the key. Keys are mode 0600. A certificate that
colla's CA did not sign is the operator's: colla checks it and never replaces it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from colla.errors import BadInput
from colla.site import Site

CA_DAYS = 3650
LEAF_DAYS = 365
WARN_DAYS = 30  # `colla check` and `colla certs` warn this close to an expiry
_KEY_TYPES = (ec.EllipticCurvePrivateKey,)


@dataclass(frozen=True)
class CertPaths:
    """Where the CA and HAProxy's two bundles live."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    external: Path
    internal: Path


@dataclass(frozen=True)
class CertInfo:
    """One certificate as `colla certs --check` prints it."""

    path: Path
    subject: str
    names: tuple[str, ...]
    not_after: datetime.datetime
    by_colla: bool  # signed by colla's own CA


def cert_paths(site: Site) -> CertPaths:
    """The site's certificate files (relative globals paths: under the config dir)."""
    g = site.project.globals

    def at(value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else site.config_dir / path

    directory = at(g.kolla_certificates_dir)
    return CertPaths(
        directory=directory,
        ca_cert=directory / "ca" / "root.crt",
        ca_key=directory / "ca" / "root.key",
        external=at(g.kolla_external_fqdn_cert or str(directory / "haproxy.pem")),
        internal=at(g.kolla_internal_fqdn_cert or str(directory / "haproxy-internal.pem")),
    )


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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


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
    """Written beside and renamed: a reader never sees half a key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(part, mode)
    os.replace(part, path)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None


def load_bundle(path: Path) -> tuple[x509.Certificate, list[x509.Certificate], object]:
    """A PEM bundle's certificate, the certificates after it and its private key;
    BadInput naming the file when it has no certificate or no key."""
    data = _read(path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise BadInput(f"{path}: no PEM certificate in it") from None
    begin = data.find(b"-----BEGIN PRIVATE KEY-----")
    if begin < 0:
        begin = data.find(b"-----BEGIN EC PRIVATE KEY-----")
    if begin < 0:
        begin = data.find(b"-----BEGIN RSA PRIVATE KEY-----")
    if begin < 0:
        raise BadInput(f"{path}: no private key after the certificate (HAProxy needs both)")
    try:
        key = serialization.load_pem_private_key(data[begin:], password=None)
    except (ValueError, TypeError) as e:
        raise BadInput(f"{path}: unreadable private key ({e})") from None
    return certs[0], certs[1:], key


def _public(obj: object) -> bytes:
    return obj.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_bundle(
    path: Path, ca: x509.Certificate | None, now: datetime.datetime | None = None
) -> CertInfo:
    """The bundle's certificate, checked: its key matches it, it has not expired (nor
    starts later), and ``ca`` signed it. BadInput naming the file otherwise."""
    now = now or _now()
    cert, _, key = load_bundle(path)
    if _public(key.public_key()) != _public(cert.public_key()):  # type: ignore[attr-defined]
        raise BadInput(f"{path}: the private key does not match the certificate")
    if cert.not_valid_after_utc <= now:
        raise BadInput(f"{path}: expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if cert.not_valid_before_utc > now:
        raise BadInput(f"{path}: not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    if ca is not None and not _signed_by(cert, ca):
        raise BadInput(f"{path}: not signed by the CA {ca.subject.rfc4514_string()}")
    return _info(path, cert, ca)


def _info(path: Path, cert: x509.Certificate, ca: x509.Certificate | None) -> CertInfo:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n.value) for n in san)
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(
        path=path,
        subject=cert.subject.rfc4514_string(),
        names=names,
        not_after=cert.not_valid_after_utc,
        by_colla=ca is not None and _signed_by(cert, ca),
    )


def load_ca(path: Path) -> x509.Certificate | None:
    """A CA certificate, if there is one at ``path``."""
    if not path.exists():
        return None
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError:
        raise BadInput(f"{path}: not a PEM certificate") from None


def trusted_ca(site: Site, paths: CertPaths) -> Path:
    """The CA the certificates must be signed by: the operator's
    (kolla_admin_openrc_cacert) or colla's."""
    given = site.project.globals.kolla_admin_openrc_cacert
    if not given:
        return paths.ca_cert
    path = Path(given)
    return path if path.is_absolute() else site.config_dir / path


def ensure_certificates(site: Site, renew: bool = False) -> list[str]:
    """Make what is missing: the CA, then each bundle. A bundle colla's CA signed is
    renewed when asked, within WARN_DAYS of its expiry (or past it), or when it lacks a
    name the site now implies. Certificates the operator brings (with
    kolla_admin_openrc_cacert, their CA) are only checked. Every existing bundle is
    checked before anything is made: a bad one changes nothing. A line per action."""
    paths = cert_paths(site)
    if site.project.globals.kolla_admin_openrc_cacert:
        check_certificates(site)
        return [f"the operator's certificates, signed by {trusted_ca(site, paths)}: checked"]
    now = _now()
    ca = load_ca(paths.ca_cert)
    bundles = [p for p in (paths.internal, paths.external) if p.exists()]
    for path in bundles:
        if ca is None:
            raise BadInput(
                f"{path}: a certificate without colla's CA; set kolla_admin_openrc_cacert "
                "to the CA that signed it"
            )
        cert, _, key = load_bundle(path)
        if _public(key.public_key()) != _public(cert.public_key()):  # type: ignore[attr-defined]
            raise BadInput(f"{path}: the private key does not match the certificate")
        if not _signed_by(cert, ca):
            raise BadInput(f"{path}: not signed by the CA {ca.subject.rfc4514_string()}")
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
        reason = _renewal(path, names, now, renew)
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
        key = serialization.load_pem_private_key(_read(paths.ca_key), password=None)
    except ValueError as e:
        raise BadInput(f"{paths.ca_key}: unreadable private key ({e})") from None
    if not isinstance(key, _KEY_TYPES) or _public(key.public_key()) != _public(ca.public_key()):
        raise BadInput(f"{paths.ca_key}: does not match the CA {paths.ca_cert}")
    return key


def _renewal(path: Path, names: Sequence[str], now: datetime.datetime, renew: bool) -> str | None:
    """Why colla remakes its bundle at ``path``; None to keep it."""
    if not path.exists():
        return "missing"
    if renew:
        return "--renew"
    cert, _, _ = load_bundle(path)
    if cert.not_valid_after_utc - now < datetime.timedelta(days=WARN_DAYS):
        return f"expires {cert.not_valid_after_utc:%Y-%m-%d}"
    missing = set(names) - set(_info(path, cert, None).names)
    if missing:
        return f"now also {', '.join(sorted(missing))}"
    return None


def check_certificates(site: Site, now: datetime.datetime | None = None) -> list[CertInfo]:
    """Every certificate of the site, checked (BadInput at the first bad one)."""
    paths = cert_paths(site)
    where = trusted_ca(site, paths)
    ca = load_ca(where)
    if ca is None and where != paths.ca_cert:
        raise BadInput(f"{where} (kolla_admin_openrc_cacert): no such file")
    found = []
    if ca is not None:
        found.append(_info(where, ca, ca))
    for path in (paths.internal, paths.external):
        if path.exists():
            found.append(check_bundle(path, ca, now))
    return found


def expiring(infos: Sequence[CertInfo], now: datetime.datetime | None = None) -> list[str]:
    """A warning for each certificate within WARN_DAYS of its expiry."""
    now = now or _now()
    return [
        f"{i.path}: expires {i.not_after:%Y-%m-%d}, in {(i.not_after - now).days} day(s)"
        for i in infos
        if i.not_after - now < datetime.timedelta(days=WARN_DAYS)
    ]
