"""Secret parameter values encrypted at rest (SPEC 14): Fernet from ``cryptography``, the key outside the home.

The key is ``$WORKFLOW_SECRET_KEY`` (a Fernet key: 32 url-safe base64-encoded bytes) when set, else
the file ``secret.key`` (mode 0600) in the user's config folder: ``$XDG_CONFIG_HOME/workflow-cli``
(an absolute ``XDG_CONFIG_HOME`` wins on every platform), else ``~/.config/workflow-cli`` on Linux,
``~/Library/Application Support/workflow-cli`` on macOS, ``%APPDATA%\\workflow-cli`` on Windows.
The file is made on first use (folder 0700, written to a private temporary file and linked into
place, so two processes making it at once end up with the same key).

An instance's ``secrets.json`` holds ``{"$format": "fernet-1", "$token": "<Fernet token>"}``: the
JSON of the values, encrypted and authenticated. A home copied without its key yields no secret:
:class:`SecretKeyError` (exit 2) says which key was tried. A plaintext file of an older release
(a mapping of names to values) is read as it is and rewritten encrypted.

``cryptography`` is imported only here, and only when an instance has secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.atomic import fsync_dir, write_all

APP_NAME = "workflow-cli"
KEY_ENV = "WORKFLOW_SECRET_KEY"
KEY_FILE = "secret.key"
FORMAT = "fernet-1"


class SecretKeyError(InvalidInputError):
    """The key that opens an instance's secrets is missing, malformed, or not the one they were sealed with."""


def config_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The user's config folder for the tool (see the module docstring)."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_NAME
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if platform.startswith("win") and env.get("APPDATA"):
        return Path(env["APPDATA"]) / APP_NAME
    return home / ".config" / APP_NAME


def key_source() -> str:
    """Where the key comes from, for messages."""
    return f"${KEY_ENV}" if os.environ.get(KEY_ENV) else str(config_dir() / KEY_FILE)


def _check_key(raw: bytes, where: str) -> bytes:
    key = raw.strip()
    try:
        valid = len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise SecretKeyError(f"{where} is not a Fernet key (32 url-safe base64-encoded bytes); "
                             "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")
    return key


def load_key(*, create: bool) -> bytes:
    """The key: ``$WORKFLOW_SECRET_KEY``, else the key file (made now when ``create`` and it is missing)."""
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return _check_key(env_key.encode("ascii", "replace"), f"${KEY_ENV}")
    path = config_dir() / KEY_FILE
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        if not create:
            raise SecretKeyError(f"no key to decrypt secrets: ${KEY_ENV} is not set and {path} does not exist "
                                 f"(set ${KEY_ENV} to the key of the home this instance was created with)") from None
    return _make_key_file(path)


def _read_key_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if os.name == "posix" and st.st_mode & 0o077:
            raise SecretKeyError(f"{path}: the secret key file is readable by others (mode {st.st_mode & 0o777:o}); "
                                 f"run: chmod 600 {path}")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return _check_key(data, str(path))


def _make_key_file(path: Path) -> bytes:
    """Write a new key to ``path`` atomically (0600, folder 0700); the first of two racing writers wins."""
    from cryptography.fernet import Fernet

    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    key = Fernet.generate_key()
    tmp = folder / f".{KEY_FILE}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            write_all(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            return _read_key_file(path)
        fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def seal(values: Mapping[str, Any]) -> dict[str, str]:
    """The content of a secrets file holding ``values`` (the key is made on first use)."""
    from cryptography.fernet import Fernet

    token = Fernet(load_key(create=True)).encrypt(json.dumps(dict(values), ensure_ascii=False).encode("utf-8"))
    return {"$format": FORMAT, "$token": token.decode("ascii")}


def is_sealed(data: Any) -> bool:
    """Whether a secrets file's content is encrypted (else it is a plaintext file of an older release)."""
    return isinstance(data, dict) and "$format" in data


def unseal(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The values inside a sealed secrets file; :class:`SecretKeyError` when this key cannot open it."""
    from cryptography.fernet import Fernet, InvalidToken

    if data.get("$format") != FORMAT or not isinstance(data.get("$token"), str):
        raise SecretKeyError(f"{where}: secrets in an unknown format {data.get('$format')!r} (written by a newer release?)")
    try:
        plain = Fernet(load_key(create=False)).decrypt(data["$token"].encode("ascii", "replace"))
    except InvalidToken:
        raise SecretKeyError(f"{where}: the secrets cannot be decrypted with the key from {key_source()} "
                             f"(not the key they were encrypted with); set ${KEY_ENV} to the key of the home "
                             "this instance was created with, or create the instance again") from None
    values = json.loads(plain.decode("utf-8"))
    if not isinstance(values, dict):
        raise SecretKeyError(f"{where}: the decrypted secrets are not a mapping")
    return values
