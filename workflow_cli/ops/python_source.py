"""Documents written in Python: ``FILE.py:NAME`` names a module-level ``Workflow`` of a file (SPEC 10).

The file is imported under a unique module name with its folder first on ``sys.path`` (so it can
import the modules beside it, and ``python`` tasks can name them); the folder stays there for the
rest of the process, and any later runner of the instance puts it there too (:func:`add_source_folder`). What the file prints while it is imported goes to stderr, so
``--json`` output stays one document. The instance stores the plain document: ``resume``, ``retry``
and the rest never import the file again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from workflow_cli.errors import InvalidInputError, NotFoundError, did_you_mean
from workflow_cli.ops.sources import LoadedSource

_PYTHON_SOURCE = re.compile(r"^(?P<path>.+\.py)(?::(?P<name>[^:/\\]*))?$", re.IGNORECASE)
_counter = itertools.count(1)


def is_python_source(arg: str) -> bool:
    """Whether a TEMPLATE_OR_FILE argument is ``FILE.py`` or ``FILE.py:NAME``."""
    return _PYTHON_SOURCE.match(arg.strip()) is not None


def load_python_source(arg: str) -> LoadedSource:
    """The plain (not yet validated) document of the ``Workflow`` that ``FILE.py:NAME`` names.

    Without ``:NAME`` the file must define exactly one ``Workflow``.

    Raises:
        NotFoundError: the file does not exist (exit 4, as for a missing document file).
        InvalidInputError: the file fails to import, or NAME is missing or is not a ``Workflow``.
    """
    from workflow_cli.builder.workflow import Workflow

    match = _PYTHON_SOURCE.match(arg.strip())
    if match is None:
        raise InvalidInputError.at(arg, "expected FILE.py or FILE.py:NAME")
    shown, name = match["path"], match["name"]
    path = Path(shown).expanduser()
    if not path.is_file():
        raise NotFoundError(f"python file not found: {shown}")
    namespace = vars(_import(path, shown))
    workflows = sorted(k for k, v in namespace.items() if isinstance(v, Workflow) and not k.startswith("_"))
    listing = f"workflows in {path.name}: {', '.join(workflows)}" if workflows else f"{path.name} defines no Workflow"
    if not name:
        if len(workflows) != 1:
            raise InvalidInputError.at(shown, f"name the workflow: {shown}:NAME", listing)
        name = workflows[0]
    if name not in namespace:
        raise InvalidInputError.at(shown, f"no workflow named '{name}'", did_you_mean(name, workflows) or listing)
    value = namespace[name]
    if not isinstance(value, Workflow):
        raise InvalidInputError.at(shown, f"'{name}' is not a Workflow (it is a {type(value).__name__})", listing)
    origin = f"{path.resolve()}:{name}"
    return LoadedSource(value.document(validate=False), name, origin)


def add_source_folder(header_path: Path) -> None:
    """For an instance created from ``FILE.py:NAME``, put the file's folder on ``sys.path`` (its python tasks' modules).

    Called by every runner of an instance (``start``, ``resume``, ``tick``, a detached run ...), so
    ``etl:transform`` beside ``flows.py`` is found in any process, as in the one that loaded the file.
    """
    try:
        source = json.loads(header_path.read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return  # the runner reports a damaged instance itself
    match = _PYTHON_SOURCE.match(source) if isinstance(source, str) else None
    if match is not None:
        folder = str(Path(match["path"]).parent)
        if folder not in sys.path and Path(folder).is_dir():
            sys.path.insert(0, folder)


def _import(path: Path, shown: str) -> ModuleType:
    """Execute the file as a fresh module; any exception becomes one line naming the file."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_workflow_cli_file_{next(_counter)}_{stem}"  # see builder.kinds.SOURCE_MODULE_PREFIX
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidInputError.at(shown, "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: report it, never a traceback
        sys.modules.pop(module_name, None)
        raise InvalidInputError.at(shown, f"importing the file failed: {_last_line(exc)}{_where(exc, path)}") from None
    return module


def _last_line(exc: BaseException) -> str:
    """What a traceback's last line says: ``NameError: name 'x' is not defined``."""
    import traceback  # only for a failing FILE.py: every run imports this module

    lines = traceback.format_exception_only(type(exc), exc)
    text = lines[-1].strip() if lines else type(exc).__name__
    qualified = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return text.replace(qualified, type(exc).__qualname__, 1) if text.startswith(qualified) else text


def _where(exc: BaseException, path: Path) -> str:
    """`` (line N)`` of the innermost place in the file the error passed through, when there is one."""
    target = path.resolve()
    import traceback

    line: Any = None
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == target:
        line = exc.lineno
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == target:
            line = frame.lineno
    return f" (line {line})" if line else ""
