"""The values every layer shares: pure, no I/O."""
