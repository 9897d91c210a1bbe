"""Backups of a whole deployment, proven by loading them, and their restore."""
