"""Kept for imports written before the move: the home's configuration is read by :mod:`workflow_cli.store.config`."""

from workflow_cli.store.config import load_config

__all__ = ["load_config"]
