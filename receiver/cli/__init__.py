"""The ``hookyard`` command: one module per command group."""

from receiver.cli.main import main

__all__ = ["main"]
