"""The admin credentials of a deployed cloud: openrc, clouds.yaml, SDK arguments."""

from __future__ import annotations

from pathlib import Path

import yaml

from colla.config.passwords import write_private_file
from colla.deploy.escape import shell
from colla.deploy.templates import REGION, identity_url
from colla.model.services import ServiceCatalog
from colla.model.topology import Topology
from colla.project import Project

CLOUD_NAME = "colla"


def admin_auth(project: Project, catalog: ServiceCatalog, topology: Topology) -> dict[str, str]:
    """Keyword arguments for ``openstack.connect`` as the identity service's admin."""
    admin = catalog.identity_server()[1].admin
    auth = {
        "auth_url": f"{identity_url(project, catalog, topology)}/v3",
        "username": admin.user,
        "password": project.passwords[admin.password],
        "project_name": admin.project,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
        "interface": "internal",
        "identity_api_version": "3",
    }
    if project.tls is not None and project.globals.kolla_enable_tls_internal:
        # The internal side is https: verified with the CA on this machine.
        auth["cacert"] = str(project.tls.ca_path)
    return auth


def openrc_text(auth: dict[str, str]) -> str:
    """A shell file to ``source`` before using the ``openstack`` client."""
    keys = {
        "OS_AUTH_URL": auth["auth_url"],
        "OS_USERNAME": auth["username"],
        "OS_PASSWORD": auth["password"],
        "OS_PROJECT_NAME": auth["project_name"],
        "OS_USER_DOMAIN_NAME": auth["user_domain_name"],
        "OS_PROJECT_DOMAIN_NAME": auth["project_domain_name"],
        "OS_REGION_NAME": auth["region_name"],
        "OS_INTERFACE": auth["interface"],
        "OS_IDENTITY_API_VERSION": auth["identity_api_version"],
    }
    if "cacert" in auth:
        keys["OS_CACERT"] = auth["cacert"]
    lines = ["# colla: admin credentials of this cloud. Keep this file private."]
    # Quoted for the shell that sources it: a password may hold quotes, $ or `.
    lines += [f"export {k}={shell(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def clouds_yaml_text(auth: dict[str, str]) -> str:
    """A clouds.yaml with one cloud, ``colla``, for openstacksdk and the CLI."""
    cloud = {
        "auth": {
            k: auth[k]
            for k in (
                "auth_url",
                "username",
                "password",
                "project_name",
                "user_domain_name",
                "project_domain_name",
            )
        },
        "region_name": auth["region_name"],
        "interface": auth["interface"],
        "identity_api_version": 3,
    }
    if "cacert" in auth:
        cloud["cacert"] = auth["cacert"]
    return yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}}, sort_keys=True)


def write_credentials(project: Project, catalog: ServiceCatalog, topology: Topology) -> list[Path]:
    """Write ``admin-openrc.sh`` and ``clouds.yaml`` into the config directory."""
    auth = admin_auth(project, catalog, topology)
    openrc = project.config_dir / "admin-openrc.sh"
    clouds = project.config_dir / "clouds.yaml"
    write_private_file(openrc, openrc_text(auth))
    write_private_file(clouds, clouds_yaml_text(auth))
    return [openrc, clouds]
