# colla: `make aio` builds an all-in-one cloud on this machine's Docker engine;
# `make test` runs every test tier. Both do their own set-up on a fresh Debian machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
COLLA := $(VENV)/bin/colla
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DOCKERD_LOG ?= /var/log/colla-dockerd.log
CONFIG_DIR ?= /etc/colla

.PHONY: setup venv host-packages engine base images aio aio-network test lint unit integration e2e bench clean

setup: host-packages engine venv

# Debian packages colla needs on the host: the engine, debootstrap for the offline base
# image, docker-compose for the Compose round trip, chromium and its driver for the
# dashboard test, the ssh client for remote nodes' engines, iproute2 for the all-in-one
# provider interface, python3-venv for the virtualenv.
# Installed only when missing.
host-packages:
	@missing=""; \
	command -v dockerd >/dev/null || missing="$$missing docker.io"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || missing="$$missing openssh-client"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# Start dockerd in the background when no engine answers; leave a running one alone.
# A dockerd still shutting down holds its pid file: wait for it to go first.
engine: host-packages
	@if docker info >/dev/null 2>&1; then \
	  echo "docker engine: $$(docker version -f '{{.Server.Version}}')"; \
	else \
	  for i in $$(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done; \
	  echo "starting dockerd (log: $(DOCKERD_LOG))"; \
	  $(SUDO) bash -c 'nohup dockerd >>$(DOCKERD_LOG) 2>&1 &'; \
	  for i in $$(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $(DOCKERD_LOG)"; tail -20 $(DOCKERD_LOG); exit 1; }; \
	  echo "docker engine: $$(docker version -f '{{.Server.Version}}')"; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

base: setup
	$(COLLA) base

images: base
	$(COLLA) build --profile core

# The all-in-one provider network's interface: one end of a veth pair (this kernel may
# have no dummy interfaces). Created once; left alone when it exists.
AIO_EXTERNAL_INTERFACE ?= colla-ext0
aio-network:
	@ip link show $(AIO_EXTERNAL_INTERFACE) >/dev/null 2>&1 || { \
	  $(SUDO) ip link add $(AIO_EXTERNAL_INTERFACE) type veth peer name $(AIO_EXTERNAL_INTERFACE)p && \
	  $(SUDO) ip link set $(AIO_EXTERNAL_INTERFACE)p up && \
	  $(SUDO) ip link set $(AIO_EXTERNAL_INTERFACE) up && \
	  echo "created $(AIO_EXTERNAL_INTERFACE) (veth) for the provider network"; }

# The all-in-one cloud: images, an example config (kept if present), passwords, deploy,
# credentials, and a check against the real APIs.
aio: images aio-network
	@[ -f $(CONFIG_DIR)/globals.yml ] || $(COLLA) init -c $(CONFIG_DIR)
	$(COLLA) genpwd -c $(CONFIG_DIR)
	$(COLLA) deploy -c $(CONFIG_DIR)
	$(COLLA) post-deploy -c $(CONFIG_DIR)
	$(COLLA) check -c $(CONFIG_DIR)
	@echo
	@echo "The cloud is up. Use it with:"
	@echo "  source $(CONFIG_DIR)/admin-openrc.sh"
	@echo "  $(VENV)/bin/openstack service list"

lint: venv
	$(VENV)/bin/ruff check colla tests bench
	$(VENV)/bin/ruff format --check colla tests bench
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest -q -m "not docker and not e2e"

integration: setup
	$(VENV)/bin/pytest -q -m docker

e2e: setup aio-network
	$(VENV)/bin/pytest -q -m e2e

# Fail fast: lint, types and the unit tier first; then one run of the integration and
# e2e tiers, in the order tests/conftest.py declares, with the slowest tests listed.
test: setup lint aio-network
	$(VENV)/bin/pytest -q -m "not docker and not e2e"
	$(VENV)/bin/pytest -q -m "docker or e2e" --durations=25

bench: setup aio-network
	bench/build
	bench/deploy --takeover

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
