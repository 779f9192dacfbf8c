"""Where each ``{{ ... }}`` placeholder of a shell command string sits, in the POSIX shell grammar (SPEC 14).

A placeholder of a ``command`` string is rendered as one shell-quoted word (:func:`shlex.quote`).
That is only safe where the shell reads a quoted word as a word: at the top level of a command, or
at the top level of a ``$( ... )`` (whose inside is parsed as a fresh command). Inside the author's
own single or double quotes, backticks, ``$'...'``, ``${...}``, ``$((...))``, a comment, a heredoc
(its body or its delimiter), or right after an unquoted ``\\`` or ``$``, the quoting would be undone
and a value could run shell syntax: :func:`quoting_problems` names each such placeholder.

The string is split by Jinja's own lexer (so ``{{ "}}" }}`` and ``{% raw %}`` are right), each
``{{ ... }}`` becomes one slot, and a small state machine walks the shell grammar over the text.
``{% ... %}`` tags may repeat or skip text, so the walk is exact only when every tag sits in the
same shell state; when they do not and the string has a placeholder, that is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_UNQUOTED = ("top", "cmd")  # frames where a quoted word is a word
_WORD_BREAK = frozenset(" \t\n;&|()<>")
_DESCRIBE = {
    "sq": "inside single quotes", "dq": "inside double quotes", "bq": "inside backticks",
    "dsq": "inside $'...' quotes", "param": "inside ${...}", "arith": "inside $((...))",
    "comment": "inside a comment",
}


@dataclass(frozen=True)
class _Slot:
    """A ``{{ ... }}`` placeholder (its source text, for messages)."""

    text: str


TAGS = "{% ... %}"  # the "placeholder" of a problem with the tags themselves
_OPENING = frozenset({"if", "for", "macro", "call", "filter", "with", "block", "autoescape", "trans"})
_MIDDLE = frozenset({"elif", "else", "pluralize"})


@dataclass(frozen=True)
class _Tag:
    """A ``{% name ... %}`` tag: where Jinja may repeat or skip the text between it and its partners."""

    name: str


@dataclass
class _Lexer:
    """The shell state while walking one command string."""

    stack: list[list[object]] = field(default_factory=lambda: [["top", 0]])
    word_start: bool = True
    heredocs: list[tuple[str, bool]] = field(default_factory=list)  # pending (delimiter, strip tabs)
    body: list[object] | None = None  # the heredoc line being read, when inside a heredoc body
    problems: list[tuple[str, str]] = field(default_factory=list)

    def key(self) -> tuple[object, ...]:
        return (tuple(tuple(f) for f in self.stack), tuple(self.heredocs), self.body is not None)


def _items(command: str) -> list[object]:
    """The command as characters, :class:`_Slot` placeholders and :class:`_Tag` markers (Jinja's lexer).

    The body of a block ``{% set x %}...{% endset %}`` is left out: it is captured, not printed.
    """
    from jinja2.exceptions import TemplateSyntaxError

    from workflow_cli.templates.render import _environment

    items: list[object] = []
    expr: list[str] | None = None
    tag: list[str] | None = None
    captured = 0  # depth of block sets
    try:
        tokens = list(_environment(False).lex(command))
    except TemplateSyntaxError:
        return []  # reported as an invalid template elsewhere
    for _, kind, value in tokens:
        if kind == "variable_begin":
            expr = [value]
        elif kind == "variable_end" and expr is not None:
            if not captured:
                items.append(_Slot("".join(expr) + value))
            expr = None
        elif expr is not None:
            expr.append(value)
        elif kind == "block_begin":
            tag = []
        elif kind == "block_end" and tag is not None:
            name = tag[0] if tag else ""
            if name == "set" and "=" not in tag:
                captured += 1
            elif name == "endset" and captured:
                captured -= 1
            elif not captured:
                items.append(_Tag(name))
            tag = None
        elif tag is not None:
            if kind != "whitespace":
                tag.append(value)
        elif kind == "data" and not captured:
            items.extend(value)
    return items


def quoting_problems(command: str) -> list[tuple[str, str]]:
    """(placeholder, where it sits) for every placeholder whose shell quoting would be undone.

    The tags of one ``{% if %}``/``{% for %}``... structure must all sit in the same shell state, so
    that whatever Jinja repeats or skips, each placeholder's context is the one found here.
    """
    items = _items(command)
    if not any(isinstance(i, _Slot) for i in items):
        return []
    lx = _Lexer()
    opened: list[tuple[object, ...]] = []
    mixed = False
    filtering = 0  # inside {% filter %}: the filter rewrites the quoted value and the text around it
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, _Slot) and filtering:
            lx.problems.append((item.text, "inside a {% filter %} block"))
        if isinstance(item, _Tag):
            filtering += (item.name == "filter") - (item.name == "endfilter" and filtering > 0)
            if item.name in _OPENING:
                opened.append(lx.key())
            elif opened and (item.name in _MIDDLE or item.name.startswith("end")):
                mixed |= opened[-1] != lx.key()
                if item.name.startswith("end"):
                    opened.pop()
            lx.word_start = True  # Jinja may skip the text before: a `#` after a tag may start a comment
            i += 1
            continue
        i = _step(lx, items, i)
    if mixed:
        lx.problems.append((TAGS, "in different quoting contexts"))
    return list(dict.fromkeys(lx.problems))


def _at(items: list[object], i: int) -> object:
    return items[i] if i < len(items) else None


def _step(lx: _Lexer, items: list[object], i: int) -> int:
    """Consume the item at ``i`` (and any it binds to); return the next index."""
    if lx.body is not None:
        return _heredoc_step(lx, items, i)
    item = items[i]
    frame = lx.stack[-1]
    kind = frame[0]
    if isinstance(item, _Slot):
        _slot(lx, items, i, item)
        return i + 1
    if kind in _UNQUOTED:
        return _unquoted_step(lx, items, i, item, frame)
    if kind == "comment":
        if item == "\n":
            lx.stack.pop()
            return _newline(lx, i)
        return i + 1
    if kind == "sq":
        if item == "'":
            lx.stack.pop()
        return i + 1
    if kind in ("dsq", "bq"):
        if item == "\\":
            return _skip_escaped(lx, items, i)
        if item == ("'" if kind == "dsq" else "`"):
            lx.stack.pop()
        return i + 1
    return _expansion_step(lx, items, i, item, frame)


def _slot(lx: _Lexer, items: list[object], i: int, slot: _Slot) -> None:
    kinds = [f[0] for f in lx.stack]
    prev = items[i - 1] if i > 0 else None
    if "bq" in kinds:
        lx.problems.append((slot.text, _DESCRIBE["bq"]))
    elif kinds[-1] not in _UNQUOTED:
        lx.problems.append((slot.text, _DESCRIBE[str(kinds[-1])]))
    elif prev == "\\" and not _escaped(items, i - 1):
        lx.problems.append((slot.text, "right after a backslash"))
    elif prev == "$":
        lx.problems.append((slot.text, "right after a $"))
    lx.word_start = False


def _skip_escaped(lx: _Lexer, items: list[object], i: int) -> int:
    """Past a backslash and the character it escapes (a placeholder or a tag after it is still looked at)."""
    nxt = _at(items, i + 1)
    if isinstance(nxt, _Tag):
        lx.problems.append((TAGS, "right after a backslash (what it escapes depends on the branch)"))
    return i + 1 if isinstance(nxt, (_Slot, _Tag)) else i + 2


def _escaped(items: list[object], i: int) -> bool:
    """Whether the backslash at ``i`` is itself escaped by an odd run of backslashes before it."""
    run = 0
    while i - 1 - run >= 0 and items[i - 1 - run] == "\\":
        run += 1
    return run % 2 == 1


def _unquoted_step(lx: _Lexer, items: list[object], i: int, item: object, frame: list[object]) -> int:
    if item == "\\":
        if _at(items, i + 1) == "\n":
            return i + 2  # a line continuation vanishes: a word may still start after it
        lx.word_start = False
        return _skip_escaped(lx, items, i)
    if item == "#" and lx.word_start:
        lx.stack.append(["comment", 0])
        return i + 1
    if item == "\n":
        lx.word_start = True
        return _newline(lx, i)
    if item in ("'", '"', "`"):
        lx.stack.append([{"'": "sq", '"': "dq", "`": "bq"}[item], 0])
        lx.word_start = False
        return i + 1
    if item == "$":
        lx.word_start = False
        return _dollar(lx, items, i, unquoted=True)
    if item == "<":
        run = 1
        while _at(items, i + run) == "<":
            run += 1
        if run == 2:  # `<<` and `<<-` open a heredoc; `<<<` is a here-string (a plain word follows)
            return _heredoc_start(lx, items, i + 2)
        lx.word_start = True
        return i + run
    if frame[0] == "cmd" and item in ("(", ")"):
        if item == "(":
            frame[1] = int(frame[1]) + 1  # type: ignore[call-overload]
        elif frame[1] == 0:
            lx.stack.pop()
        else:
            frame[1] = int(frame[1]) - 1  # type: ignore[call-overload]
    lx.word_start = item in _WORD_BREAK
    return i + 1


def _dollar(lx: _Lexer, items: list[object], i: int, *, unquoted: bool) -> int:
    """``$(``, ``$((``, ``${`` (and ``$'`` outside double quotes) open a frame; a plain ``$`` does not."""
    nxt = _at(items, i + 1)
    if isinstance(nxt, _Tag):
        lx.problems.append((TAGS, "right after a $ (what follows it depends on the branch)"))
    if nxt == "(":
        if _at(items, i + 2) == "(":
            lx.stack.append(["arith", 0])
            return i + 3
        lx.stack.append(["cmd", 0])
        lx.word_start = True
        return i + 2
    if nxt == "{":
        lx.stack.append(["param", 0])
        return i + 2
    if nxt == "'" and unquoted:
        lx.stack.append(["dsq", 0])
        return i + 2
    return i + 1


def _expansion_step(lx: _Lexer, items: list[object], i: int, item: object, frame: list[object]) -> int:
    """Inside double quotes, ``${...}`` or ``$((...))``."""
    kind = frame[0]
    if item == "\\":
        return _skip_escaped(lx, items, i)
    if item == "$":
        return _dollar(lx, items, i, unquoted=False)
    if item == "`":
        lx.stack.append(["bq", 0])
        return i + 1
    if kind == "dq":
        if item == '"':
            lx.stack.pop()
        return i + 1
    if kind == "param" and item in ("'", '"'):
        lx.stack.append(["sq" if item == "'" else "dq", 0])
        return i + 1
    opening, closing = ("{", "}") if kind == "param" else ("(", ")")
    if item == opening:
        frame[1] = int(frame[1]) + 1  # type: ignore[call-overload]
    elif item == closing:
        if frame[1] == 0:
            lx.stack.pop()
            return i + (2 if kind == "arith" and _at(items, i + 1) == ")" else 1)
        frame[1] = int(frame[1]) - 1  # type: ignore[call-overload]
    return i + 1


def _heredoc_start(lx: _Lexer, items: list[object], i: int) -> int:
    """After ``<<``: an optional ``-``, blanks, then the delimiter word (its quotes removed)."""
    strip = _at(items, i) == "-"
    i += 1 if strip else 0
    while _at(items, i) in (" ", "\t"):
        i += 1
    delim: list[str] = []
    quote: str | None = None
    while i < len(items):
        item = items[i]
        if isinstance(item, _Slot):
            lx.problems.append((item.text, "as a heredoc delimiter"))
        elif isinstance(item, _Tag):
            lx.problems.append((TAGS, "in a heredoc delimiter"))
            break
        elif quote is not None:
            if item == quote:
                quote = None
            else:
                delim.append(str(item))
        elif item in ("'", '"'):
            quote = str(item)
        elif item == "\\":
            if not isinstance(_at(items, i + 1), (_Slot, _Tag)):  # reported on the next turn
                i += 1
                delim.append(str(_at(items, i) or ""))
        elif item in _WORD_BREAK:
            break
        else:
            delim.append(str(item))
        i += 1
    lx.heredocs.append(("".join(delim), strip))
    lx.word_start = False
    return i


def _newline(lx: _Lexer, i: int) -> int:
    """An unquoted newline: heredoc bodies, if any are pending, start on the next line."""
    if lx.heredocs:
        lx.body = []
    return i + 1


def _heredoc_step(lx: _Lexer, items: list[object], i: int) -> int:
    """Inside a heredoc body: every placeholder is refused; a line equal to the delimiter ends it."""
    item = items[i]
    assert lx.body is not None
    if isinstance(item, _Slot):
        lx.problems.append((item.text, "inside a heredoc"))
        lx.body.append(item)
    elif item == "\n":
        delim, strip = lx.heredocs[0]
        line = "".join(c for c in lx.body if isinstance(c, str))
        if all(isinstance(c, str) for c in lx.body) and (line.lstrip("\t") if strip else line) == delim:
            lx.heredocs.pop(0)
            if not lx.heredocs:
                lx.body = None
                return i + 1
        lx.body = []
    elif not isinstance(item, _Tag):
        lx.body.append(item)
    return i + 1
