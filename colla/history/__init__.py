"""History: revisions of every container, and a journal of in-flight operations."""
