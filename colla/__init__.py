"""colla: OpenStack services in containers, one image per service."""

__version__ = "0.1.0"
