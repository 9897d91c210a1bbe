"""Upgrade and rollback per service: an atomic swap, journalled, reverted on failure."""
