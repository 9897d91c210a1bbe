"""Exports of a deployment: Docker Compose files per node and Kubernetes manifests."""
