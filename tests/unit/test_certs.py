"""`colla certs`: a CA and HAProxy's certificates made with cryptography, kept when
good, renewed near expiry, and every bad certificate refused with one line."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from colla.authority import _pem_key, make_ca, make_leaf
from colla.certs import CertInfo, CertPaths, cert_paths, expiring
from colla.cli.app import run
from colla.errors import ExitStatus
from colla.site import load_site

NOW = datetime.datetime.now(datetime.UTC)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _refused(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(args) != ExitStatus.OK
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err


def _made(config_dir: Path) -> CertPaths:
    """`colla certs` run on the config directory, and where it put the files."""
    assert run(["certs", "-c", str(config_dir)]) == ExitStatus.OK
    site = load_site(config_dir)
    return cert_paths(site.config_dir, site.project.globals)


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_certs_makes_a_ca_and_both_bundles_with_the_sites_names(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _made(config_dir)
    assert stat.S_IMODE(paths.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.internal.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.external.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificates(paths.internal.read_bytes())[0]
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    before = _tree(paths.directory)
    out = capsys.readouterr().out
    assert "made the CA" in out
    # Idempotent: a second run keeps everything; --renew remakes the bundles only.
    assert run(["certs", "-c", str(config_dir)]) == ExitStatus.OK
    assert _tree(paths.directory) == before
    assert run(["certs", "--renew", "-c", str(config_dir)]) == ExitStatus.OK
    after = _tree(paths.directory)
    assert after[str(paths.ca_cert)] == before[str(paths.ca_cert)]
    assert after[str(paths.internal)] != before[str(paths.internal)]
    assert run(["certs", "--check", "-c", str(config_dir)]) == ExitStatus.OK
    printed = capsys.readouterr().out
    assert "CN=colla CA" in printed and "(colla's CA)" in printed


def test_a_certificate_near_its_expiry_warns_and_colla_renews_its_own(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _made(config_dir)
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), None)
    old, key = make_leaf(ca, ca_key, ["localhost"], NOW - datetime.timedelta(days=350))  # type: ignore[arg-type]
    paths.internal.write_bytes(_pem(old) + _pem_key(key))
    capsys.readouterr()
    assert run(["certs", "--check", "-c", str(config_dir)]) == ExitStatus.OK
    assert "warning:" in capsys.readouterr().err
    assert run(["certs", "-c", str(config_dir)]) == ExitStatus.OK
    assert "made" in capsys.readouterr().out
    renewed = x509.load_pem_x509_certificates(paths.internal.read_bytes())[0]
    assert renewed.not_valid_after_utc > NOW + datetime.timedelta(days=300)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("key", "the private key does not match the certificate"),
        ("signer", "not signed by the CA CN=colla CA"),
        ("expired", "expired on"),  # the operator's own, under their CA
    ],
)
def test_a_bad_certificate_is_refused_with_one_line_and_nothing_changes(
    config_dir: Path, capsys: pytest.CaptureFixture[str], bad: str, message: str
) -> None:
    paths = _made(config_dir)
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), None)
    other_ca, other_key = make_ca(NOW - datetime.timedelta(days=800))
    if bad == "expired":
        (config_dir / "their-ca.crt").write_bytes(_pem(other_ca))
        with (config_dir / "globals.yml").open("a") as handle:
            handle.write("kolla_admin_openrc_cacert: their-ca.crt\n")
    when = NOW - datetime.timedelta(days=400) if bad == "expired" else NOW
    signer = (ca, ca_key) if bad == "key" else (other_ca, other_key)
    cert, key = make_leaf(*signer, ["localhost"], when)  # type: ignore[arg-type]
    if bad == "key":
        _, key = make_leaf(ca, ca_key, ["localhost"], NOW)  # type: ignore[arg-type]
    for path in (paths.internal, paths.external):
        path.write_bytes(_pem(cert) + _pem_key(key))
    before = _tree(config_dir)
    _refused(["certs", "--check", "-c", str(config_dir)], message, capsys)
    _refused(["certs", "-c", str(config_dir)], message, capsys)
    assert _tree(config_dir) == before


def test_a_bad_fqdn_in_globals_names_its_key(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (config_dir / "globals.yml").open("a") as handle:
        handle.write('kolla_external_fqdn: "cloud .example"\n')
    _refused(["certs", "-c", str(config_dir)], "kolla_external_fqdn", capsys)
    assert not (config_dir / "certificates").exists()


def test_only_certificates_within_30_days_of_expiry_warn(tmp_path: Path) -> None:
    soon = CertInfo(tmp_path / "a.pem", "CN=a", (), NOW + datetime.timedelta(days=10), True)
    later = CertInfo(tmp_path / "b.pem", "CN=b", (), NOW + datetime.timedelta(days=40), True)
    (warning,) = expiring([soon, later], NOW)
    assert warning.startswith(f"{tmp_path / 'a.pem'}: expires") and "in 10 day(s)" in warning
