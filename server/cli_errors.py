"""How a ``tandem`` command fails: its message on standard error, exit status 2."""

from __future__ import annotations

import sys

import click


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)
