"""The home's optional ``config.yaml`` (SPEC 6.5), checked like a document (read by ops and the engine alike)."""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.home import Home


def load_config(home: Home) -> dict[str, Any]:
    """The configuration, or ``{}`` when the file does not exist; a misspelt key is an error."""
    path = home.config_file
    if not path.exists():
        return {}
    from workflow_cli.model.loader import load_file
    from workflow_cli.model.schema import schema_issues

    config = load_file(path, what="config")
    issues = schema_issues(config, "config")
    if issues:
        from workflow_cli.errors import Issue

        raise InvalidInputError(None, [Issue(f"{path}:{i.path}", i.message, i.hint) for i in issues])
    return dict(config)
