"""Horizon in Debian's headless Chromium: log in as the admin and find a server listed.

Over https the browser trusts colla's CA the way Chromium allows without a system
store: the CA's public key is pinned (``--ignore-certificate-errors-spki-list``), and
HAProxy's bundle carries the CA, so a certificate colla's CA did not sign is refused.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def spki_pin(certificate: Path) -> str:
    """Chromium's pin of a certificate's key: base64 of the SHA-256 of its DER SPKI."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def horizon_lists_the_server(
    config_dir: Path, server: str, base: str, ca: Path | None = None, tag: str = "horizon"
) -> str:
    """Log in at ``base`` (``http://127.0.0.1``, ``https://VIP``) and wait for ``server``
    on the instances page; returns the URL the login page was finally served at."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    password = yaml.safe_load((config_dir / "passwords.yml").read_text())["keystone_admin_password"]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    if ca is not None:
        options.add_argument(f"--ignore-certificate-errors-spki-list={spki_pin(ca)}")
    ARTIFACTS.mkdir(exist_ok=True)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(60)
        driver.get(f"{base}/auth/login/")
        wait = WebDriverWait(driver, 60)
        wait.until(expected_conditions.presence_of_element_located((By.ID, "id_username")))
        served_at = str(driver.current_url)
        driver.save_screenshot(str(ARTIFACTS / f"{tag}-login.png"))
        driver.find_element(By.ID, "id_username").send_keys("admin")
        driver.find_element(By.ID, "id_password").send_keys(password)
        driver.find_element(By.ID, "loginBtn").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)
        driver.get(f"{base}/project/instances/")
        wait.until(lambda d: server in d.page_source)
        driver.save_screenshot(str(ARTIFACTS / f"{tag}-instances.png"))
    finally:
        driver.quit()
    return served_at
