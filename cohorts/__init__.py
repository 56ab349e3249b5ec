"""The community: store, services, HTTP service, client and CLI."""

__version__ = "0.1.0"
