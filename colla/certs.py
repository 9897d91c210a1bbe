"""TLS certificates as colla reads them: where they live (kolla-ansible's names, under
``kolla_certificates_dir``: ``ca/root.crt``, ``haproxy.pem`` for the external side,
``haproxy-internal.pem`` for the internal one, each the certificate, the CA's and the
key), and every check a certificate must pass before HAProxy gets it: its key, its
expiry, its signer. Making them is colla.authority's.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from colla.config.globals import Globals
from colla.errors import BadInput

if TYPE_CHECKING:
    from colla.site import Site

WARN_DAYS = 30  # `colla check` and `colla certs` warn this close to an expiry


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


def cert_paths(config_dir: Path, g: Globals) -> CertPaths:
    """The certificate files (relative globals paths: under the config directory)."""

    def at(value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else config_dir / path

    directory = at(g.kolla_certificates_dir)
    return CertPaths(
        directory=directory,
        ca_cert=directory / "ca" / "root.crt",
        ca_key=directory / "ca" / "root.key",
        external=at(g.kolla_external_fqdn_cert or str(directory / "haproxy.pem")),
        internal=at(g.kolla_internal_fqdn_cert or str(directory / "haproxy-internal.pem")),
    )


_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)
_PEM_KEY = re.compile(
    r"-----BEGIN (?:EC |RSA )?PRIVATE KEY-----.+?-----END (?:EC |RSA )?PRIVATE KEY-----\n?", re.S
)


@dataclass(frozen=True)
class TlsMaterial:
    """What TLS takes from the certificate files, read and checked once with the
    project: the CA (its path here, for colla's own clients, and its PEM, for the
    containers) and HAProxy's bundles (PEM; "" when that side has no TLS)."""

    ca_path: Path
    ca: str
    internal: str
    external: str

    @property
    def internal_chain(self) -> str:
        """The internal bundle's certificates (PEM), without its key: for a server that
        takes them apart from the key (RabbitMQ)."""
        return "".join(_PEM_CERT.findall(self.internal))

    @property
    def internal_key(self) -> str:
        """The internal bundle's private key (PEM)."""
        found = _PEM_KEY.search(self.internal)
        return found.group(0) if found else ""


def load_tls(config_dir: Path, g: Globals) -> TlsMaterial:
    """The checked TLS files of a project that enables TLS; BadInput naming the file
    that is missing or bad (`colla certs` makes them)."""
    paths = cert_paths(config_dir, g)
    where = trusted_ca(config_dir, g, paths)
    ca = load_ca(where)
    if ca is None:
        raise BadInput(
            f"{where}: no such CA certificate (run `colla certs`, or set kolla_admin_openrc_cacert)"
        )
    wanted = (
        (paths.internal, g.kolla_enable_tls_internal),
        (paths.external, g.kolla_enable_tls_external),
    )
    bundles = []
    for path, on in wanted:
        if not on:
            bundles.append("")
            continue
        if not path.exists():
            raise BadInput(f"{path}: no such certificate (run `colla certs`)")
        check_bundle(path, ca)
        bundles.append(path.read_text(encoding="ascii", errors="replace"))
    pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    return TlsMaterial(where, pem, bundles[0], bundles[1])


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None


def load_bundle(path: Path) -> tuple[x509.Certificate, list[x509.Certificate], object]:
    """A PEM bundle's certificate, the certificates after it and its private key;
    BadInput naming the file when it has no certificate or no key."""
    data = read_file(path)
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


def public_der(obj: object) -> bytes:
    return obj.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_bundle(
    path: Path,
    ca: x509.Certificate | None,
    now: datetime.datetime | None = None,
    dated: bool = True,
) -> CertInfo:
    """The bundle's certificate, checked: its key matches it, it has not expired (nor
    starts later; not checked unless ``dated``: `colla certs` renews an expired one),
    and ``ca`` signed it. BadInput naming the file otherwise."""
    now = now or now_utc()
    cert, _, key = load_bundle(path)
    if public_der(key.public_key()) != public_der(cert.public_key()):  # type: ignore[attr-defined]
        raise BadInput(f"{path}: the private key does not match the certificate")
    if dated and cert.not_valid_after_utc <= now:
        raise BadInput(f"{path}: expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if dated and cert.not_valid_before_utc > now:
        raise BadInput(f"{path}: not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    if ca is not None and not signed_by(cert, ca):
        raise BadInput(f"{path}: not signed by the CA {ca.subject.rfc4514_string()}")
    return cert_info(path, cert, ca)


def cert_info(path: Path, cert: x509.Certificate, ca: x509.Certificate | None) -> CertInfo:
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
        by_colla=ca is not None and signed_by(cert, ca),
    )


def load_ca(path: Path) -> x509.Certificate | None:
    """A CA certificate, if there is one at ``path``."""
    if not path.exists():
        return None
    try:
        return x509.load_pem_x509_certificate(read_file(path))
    except ValueError:
        raise BadInput(f"{path}: not a PEM certificate") from None


def trusted_ca(config_dir: Path, g: Globals, paths: CertPaths) -> Path:
    """The CA the certificates must be signed by: the operator's
    (kolla_admin_openrc_cacert) or colla's."""
    given = g.kolla_admin_openrc_cacert
    if not given:
        return paths.ca_cert
    path = Path(given)
    return path if path.is_absolute() else config_dir / path


def check_certificates(site: Site, now: datetime.datetime | None = None) -> list[CertInfo]:
    """Every certificate of the site, checked (BadInput at the first bad one)."""
    paths = cert_paths(site.config_dir, site.project.globals)
    where = trusted_ca(site.config_dir, site.project.globals, paths)
    ca = load_ca(where)
    if ca is None and where != paths.ca_cert:
        raise BadInput(f"{where} (kolla_admin_openrc_cacert): no such file")
    found = []
    if ca is not None:
        found.append(cert_info(where, ca, ca))
    for path in (paths.internal, paths.external):
        if path.exists():
            found.append(check_bundle(path, ca, now))
    return found


def expiring(infos: Sequence[CertInfo], now: datetime.datetime | None = None) -> list[str]:
    """A warning for each certificate within WARN_DAYS of its expiry."""
    now = now or now_utc()
    return [
        f"{i.path}: expires {i.not_after:%Y-%m-%d}, in {(i.not_after - now).days} day(s)"
        for i in infos
        if i.not_after - now < datetime.timedelta(days=WARN_DAYS)
    ]
