"""colla's service catalog: one directory per service under ``services/``, holding its
``service.yaml`` and its templates; and the function that loads and checks them."""

from __future__ import annotations

import graphlib
from importlib import resources
from pathlib import Path

import pydantic

from colla.errors import BadInput
from colla.model.catalog import ServiceData
from colla.model.services import ServiceCatalog, ServiceDef
from colla.yamlfile import describe_validation_error, load_yaml_mapping


def _check_roles(services: dict[str, ServiceDef]) -> None:
    """Each role has one provider at most, and the database and identity providers say
    how colla uses them."""
    seen: dict[str, str] = {}
    for service in services.values():
        where = service.directory / "service.yaml"
        role = service.provides
        if role is None:
            continue
        if role in seen:
            raise BadInput(f"{where}: '{role}' is provided by {seen[role]} already")
        seen[role] = service.name
        if role == "database" and service.database_server is None:
            raise BadInput(f"{where}: provides database but has no database_server")
        if role == "identity" and service.identity_server is None:
            raise BadInput(f"{where}: provides identity but has no identity_server")


def _check_early(services: dict[str, ServiceDef]) -> None:
    """Bootstrap steps that name their needs come first, need only services the service
    depends on, and include the database server when the service has databases (they
    are made before those steps)."""
    database = next((s.name for s in services.values() if s.provides == "database"), None)
    for service in services.values():
        where = service.directory / "service.yaml"
        early = service.early_steps
        for step in service.bootstrap[len(early) :]:
            if step.needs is not None:
                raise BadInput(
                    f"{where}: bootstrap: {step.name}: steps with 'needs' come before the others"
                )
        for step in early:
            extra = set(step.needs or ()) - set(service.depends_on)
            if extra:
                raise BadInput(
                    f"{where}: bootstrap: {step.name}: needs {', '.join(sorted(extra))}, "
                    "which the service does not depend on"
                )
        if early and service.databases and database not in service.early_needs:
            raise BadInput(
                f"{where}: bootstrap: {early[0].name}: its databases are made first, so "
                f"its needs must include {database}"
            )


def default_services_root() -> Path:
    """The service catalog shipped inside the colla package."""
    return Path(str(resources.files("colla.catalog") / "services"))


def load_services(root: Path | None = None) -> ServiceCatalog:
    """Load and check every ``<service>/service.yaml`` under ``root``."""
    root = root or default_services_root()
    services: dict[str, ServiceDef] = {}
    for index in sorted(root.glob("*/service.yaml")):
        name = index.parent.name
        try:
            data = ServiceData.model_validate(load_yaml_mapping(index))
        except pydantic.ValidationError as e:
            raise BadInput(describe_validation_error(index, e)) from None
        for item in (
            *data.containers,
            *data.bootstrap,
            *data.post_start,
            *data.rotate_keys,
            *data.upgrade.migrate,
            *data.upgrade.contract,
        ):
            for file in item.config:
                places = [index.parent]
                if data.part_of:
                    places.append(root / data.part_of)
                if not any((place / file.template).is_file() for place in places):
                    raise BadInput(f"{index}: {item.name}: template {file.template} is missing")
        used = {v for c in data.containers for v in c.volumes}
        for volume in data.backup_volumes:
            if volume not in used:
                raise BadInput(
                    f"{index}: backup_volumes: '{volume}' is not a volume of its containers"
                )
        fields = dict(data)
        group = fields.pop("group")
        groups = (group,) if isinstance(group, str) else tuple(group)
        services[name] = ServiceDef(name=name, directory=index.parent, groups=groups, **fields)
    _check_roles(services)
    _check_early(services)
    for service in services.values():
        for dep in (*service.depends_on, *filter(None, [service.part_of])):
            if dep not in services:
                raise BadInput(f"{service.directory / 'service.yaml'}: unknown dependency '{dep}'")
    catalog = ServiceCatalog(root=root, services=services)
    try:
        catalog.levels(set(services))
    except graphlib.CycleError as e:
        raise BadInput(
            f"{root}: service dependencies form a cycle: {' → '.join(e.args[1])}"
        ) from None
    return catalog
