"""Find documents: templates (home and built-in), document files, and instances by id prefix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow_cli.errors import InvalidInputError, NotFoundError, did_you_mean
from workflow_cli.model.loader import load_document
from workflow_cli.model.validate import CURRENT_VERSION as CURRENT_DOCUMENT_VERSION
from workflow_cli.store.home import Home

TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class TemplateRef:
    """A template file and where it comes from (``home`` or ``builtin``)."""

    name: str
    path: Path
    source: str


def builtin_templates_dir() -> Path:
    """The folder of templates shipped with the package."""
    from importlib.resources import files

    return Path(str(files("workflow_cli") / "builtin_templates"))


def _scan(folder: Path, source: str) -> dict[str, TemplateRef]:
    found: dict[str, TemplateRef] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in TEMPLATE_SUFFIXES and path.is_file() and not path.name.startswith("."):
            found.setdefault(path.stem, TemplateRef(path.stem, path, source))
    return found


def discover_templates(home: Home) -> dict[str, TemplateRef]:
    """Every template by name; a home template shadows a built-in one of the same name."""
    found = _scan(builtin_templates_dir(), "builtin")
    found.update(_scan(home.templates, "home"))
    return dict(sorted(found.items()))


def find_template(home: Home, name: str) -> TemplateRef:
    """A template by name, or NotFoundError with the nearest names."""
    templates = discover_templates(home)
    if name in templates:
        return templates[name]
    hint = did_you_mean(name, list(templates)) or f"available: {', '.join(templates) or 'none'}"
    raise NotFoundError(f"unknown template '{name}' ({hint})")


def looks_like_path(arg: str) -> bool:
    """Whether a TEMPLATE_OR_FILE argument names a file rather than a template."""
    return "/" in arg or arg.lower().endswith(TEMPLATE_SUFFIXES) or arg in (".", "..")


@dataclass(frozen=True)
class LoadedSource:
    """A document together with the template name (or file) it came from.

    ``migrated_from`` is the version the file holds when ``document`` was migrated in memory (SPEC 11).
    """

    document: dict[str, Any]
    template: str
    origin: str
    migrated_from: str | None = None


def load_source(home: Home, arg: str) -> LoadedSource:
    """Load TEMPLATE_OR_FILE: ``FILE.py[:NAME]``, a path when it looks like one or exists, else a template name."""
    if not arg.strip():
        raise InvalidInputError("expected a template name or a document file, got an empty string")
    from workflow_cli.ops.python_source import is_python_source, load_python_source

    if is_python_source(arg):  # FILE.py or FILE.py:NAME: a Workflow written in Python (SPEC 10)
        return load_python_source(arg)
    path = Path(arg).expanduser()
    if looks_like_path(arg) or path.is_file():
        doc = load_document(path)
        return _upgraded(LoadedSource(doc, path.stem, str(path.resolve())), shown=arg, target=arg)
    ref = find_template(home, arg)
    loaded = LoadedSource(load_document(ref.path), ref.name, f"{ref.source}:{ref.path}")
    return _upgraded(loaded, shown=str(ref.path), target=ref.name)


def _upgraded(source: LoadedSource, *, shown: str, target: str) -> LoadedSource:
    """``source`` with an old-version document migrated in memory (SPEC 11); see ops.migrate."""
    if source.document.get("version") == CURRENT_DOCUMENT_VERSION:
        return source  # the common case: no need to load the migration code
    from workflow_cli.ops.migrate import upgrade_in_memory

    return upgrade_in_memory(source, shown=shown, target=target)
