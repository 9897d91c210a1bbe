"""Register one service in Keystone: its user, roles, service and endpoints.

Runs inside the service's own image (keystoneauth1 is part of openstack-base) as a
bootstrap task. Every step looks before it creates, so a re-run changes nothing.
Usage: colla-register.py REGISTER_JSON
"""

import json
import sys
from typing import Any

from keystoneauth1 import exceptions, session
from keystoneauth1.identity import v3


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    admin = spec["admin"]
    auth = v3.Password(
        auth_url=spec["auth_url"],
        username=admin["username"],
        password=admin["password"],
        project_name=admin["project"],
        user_domain_id="default",
        project_domain_id="default",
    )
    # Over https (TLS on HAProxy's internal side), the CA colla copied into the container.
    verify = spec.get("cacert") or True
    api = Identity(session.Session(auth=auth, verify=verify), spec["auth_url"].rstrip("/") + "/v3")
    if spec.get("retire"):
        # The end of a password rotation: the accounts the service no longer uses go.
        for name in spec["retire"]:
            found = api.find("users", {"name": name, "domain_id": "default"})
            if found is not None:
                api.delete(f"/users/{found['id']}")
                print(f"deleted user {name}")
        return
    project = api.ensure("projects", {"name": spec["service_project"], "domain_id": "default"})
    user = spec["user"]
    user_id = api.ensure(
        "users", {"name": user["name"], "domain_id": "default"}, {"password": user["password"]}
    )
    # A changed passwords.yml takes effect here. Only when it changed: Keystone revokes
    # every token of a user whose password is set, even to the same value, and the
    # running service would have to sign in again.
    if not signs_in(spec, user["name"], user["password"], verify):
        api.patch(f"/users/{user_id}", {"user": {"password": user["password"]}})
    for role in user["roles"]:
        role_id = api.ensure("roles", {"name": role})
        api.put(f"/projects/{project}/users/{user_id}/roles/{role_id}")
    service = spec["service"]
    service_id = api.ensure("services", {"type": service["type"], "name": service["name"]})
    for interface, url in sorted(spec["endpoints"].items()):
        found = api.find(
            "endpoints",
            {"service_id": service_id, "interface": interface, "region_id": spec["region"]},
        )
        if found is None:
            api.create(
                "endpoints",
                {
                    "service_id": service_id,
                    "interface": interface,
                    "url": url,
                    "region_id": spec["region"],
                },
            )
        elif found["url"] != url:
            api.patch(f"/endpoints/{found['id']}", {"endpoint": {"url": url}})
    print(f"registered {service['name']} ({service['type']}) and user {user['name']}")


def signs_in(spec: dict[str, Any], name: str, password: str, verify: Any) -> bool:
    """Whether ``name`` gets an unscoped token with ``password``."""
    auth = v3.Password(
        auth_url=spec["auth_url"],
        username=name,
        password=password,
        user_domain_id="default",
        unscoped=True,
    )
    try:
        return bool(session.Session(auth=auth, verify=verify).get_token())
    except exceptions.Unauthorized:
        return False


class Identity:
    """The few Identity v3 calls registration needs."""

    def __init__(self, sess: Any, url: str) -> None:
        self.sess = sess
        self.url = url

    def _call(self, method: str, path: str, body: Any = None, conflict_ok: bool = False) -> Any:
        response = self.sess.request(self.url + path, method, json=body, raise_exc=False)
        if conflict_ok and response.status_code == 409:
            return None
        if response.status_code >= 400:
            detail = response.text[:300]
            sys.exit(f"colla-register: {method} {path}: HTTP {response.status_code}: {detail}")
        return response.json() if response.content else {}

    def find(self, collection: str, filters: dict[str, str]) -> Any:
        query = "&".join(f"{k}={v}" for k, v in sorted(filters.items()))
        items = self._call("GET", f"/{collection}?{query}")[collection]
        return items[0] if items else None

    def create(self, collection: str, body: dict[str, Any]) -> Any:
        return self._call("POST", f"/{collection}", {collection[:-1]: body})[collection[:-1]]

    def ensure(
        self, collection: str, match: dict[str, str], extra: dict[str, str] | None = None
    ) -> str:
        found = self.find(collection, match)
        if found is None:
            body = {collection[:-1]: {**match, **(extra or {})}}
            # Services register in parallel: another one may create the same project
            # or role between the look and the create. Keystone refuses the duplicate
            # (409); then the other's is the one to use.
            created = self._call("POST", f"/{collection}", body, conflict_ok=True)
            found = created[collection[:-1]] if created else self.find(collection, match)
        if found is None:
            sys.exit(f"colla-register: {collection} {match} conflicts but cannot be found")
        return str(found["id"])

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PATCH", path, body)

    def put(self, path: str) -> Any:
        return self._call("PUT", path)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)


if __name__ == "__main__":
    main(sys.argv[1])
