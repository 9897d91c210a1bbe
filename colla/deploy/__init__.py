"""Deploy: observe → plan (pure) → apply → verify, and the bootstrap tasks."""
