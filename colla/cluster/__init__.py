"""Clustered infrastructure (issue 16): what colla decides about a cluster's members."""
