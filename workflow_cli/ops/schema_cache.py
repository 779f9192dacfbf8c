"""The schema-check cache: a document whose exact contents passed the schema check is not checked again.

The key is a SHA-256 over the document's canonical encoding (orjson, sorted keys), the tool's
version and the hash of the shipped schema, so any change to the document, an upgrade of the tool or
a change of the schema misses the cache. A document holding a value JSON cannot carry exactly (a
YAML date, an integer beyond 64 bits) is never cached. Keys live in the home's index
(``schema_ok``), written only when ``create`` succeeded, so a failed command leaves the home as it was.
Only the schema check is skipped: the graph, rules, parameters and expressions are checked every time.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from workflow_cli.store import index
from workflow_cli.store.home import Home
from workflow_cli.store.indexed import enabled


def document_key(document: Any) -> str | None:
    """The cache key of a document, or None when it cannot be encoded exactly."""
    import hashlib

    import orjson

    from workflow_cli._version import __version__
    from workflow_cli.model.schema import schema_hash

    options = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
    try:
        data = orjson.dumps(document, option=options)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return hashlib.sha256(b"\0".join((data, __version__.encode(), schema_hash().encode()))).hexdigest()


def passed_before(home: Home, key: str | None) -> bool:
    """Whether a document with this key passed the schema check in this home."""
    if key is None or not enabled():
        return False
    try:
        conn = index.connection(home.root, create=False)
        return conn is not None and index.schema_checked(conn, key)
    except (sqlite3.Error, OSError):
        return False


def remember(home: Home, key: str | None) -> None:
    """Note that a document with this key passed (after a successful ``create``)."""
    if key is None or not enabled():
        return
    try:
        conn = index.connection(home.root, create=False)
        if conn is not None:
            index.note_schema_checked(conn, key, time.time())
    except (sqlite3.Error, OSError):
        pass
