"""Tandem: a self-hosted server for automated end-user support on web sites."""

__version__ = "0.1.0"
