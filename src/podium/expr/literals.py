"""``${ expr }`` in a script becomes a literal of the script's language, never code.

A value from a param, a signal or an upstream output is written by whoever sent it, so it is
quoted for the place of the script it lands in (decision 11):

- **bash** (``script`` steps): a shell-quoted word where the text is unquoted (``echo ${ x }``);
  escaped for the quotes around it inside ``'…'`` and ``"…"``; inside an expanding heredoc
  (``<<EOF``) with ``\\ $ ` `` escaped; in a comment with its line breaks made spaces. A value with
  a line break cannot go into a heredoc (it could end it), and ``${ }`` cannot stand inside
  backticks (use ``$( )``): both are refused.
- **python** (``python`` steps): a Python literal in code (``n = ${ n }`` is ``n = 3``, a text
  is ``'text'``, a list ``[1, 'a']``); escaped for the string it sits in (``"day ${ d }"``).
  Inside an f-string, a raw or a bytes string, no escaping can keep it text: refused at push.

An expression that is exactly ``raw(…)`` is the author's opt-out (decision 51 of
docs/decisions.md): its plain text is pasted wherever it stands, and validate warns about it.

The places are found once per script (cached): bash by a scanner of its quoting, python by its
own tokenizer.
"""

from __future__ import annotations

import functools
import io
import json
import math
import shlex
import tokenize
from collections.abc import Sequence
from typing import Any

from podium.expr.errors import ExprError

MARK = "\ue000"
"""Stands for an expression while a script's text is scanned (a private-use character)."""

BASH_WORD = "word"
BASH_SINGLE = "single"
BASH_DOUBLE = "double"
BASH_HEREDOC = "heredoc"
BASH_RAW_HEREDOC = "raw-heredoc"
BASH_COMMENT = "comment"
BASH_BACKTICK = "backtick"
PY_CODE = "code"
PY_COMMENT = "comment"
PY_UNSUPPORTED = "unsupported"

REFUSED = {
    BASH_BACKTICK: "`${ }` inside backticks cannot be quoted safely: write $( ) instead",
    PY_UNSUPPORTED: (
        "`${ }` inside an f-string, a raw string or a bytes string cannot be kept text: assign "
        "it to a variable first (x = ${ x }) and use the variable there"
    ),
}


def language_of(step_type: str | None) -> str:
    """The language a step's script is written in: python for ``python`` steps, else bash."""
    return "python" if step_type == "python" else "bash"


@functools.lru_cache(maxsize=512)
def places(language: str, pieces: tuple[str, ...]) -> tuple[str, ...]:
    """Where each expression sits: ``pieces`` is the script's literal text around them (one more
    piece than expressions)."""
    if language == "python":
        return _python_places(pieces)
    return _bash_places(MARK.join(pieces), len(pieces) - 1)


def problems(language: str, pieces: Sequence[str], raw: Sequence[bool] = ()) -> list[str]:
    """Why some expressions of a script cannot be rendered safely (checked at push); those
    marked ``raw`` are pasted as they are, so they stand anywhere."""
    found = places(language, tuple(pieces))
    marks = list(raw) + [False] * (len(found) - len(raw))
    return sorted(
        {REFUSED[p] for p, pasted in zip(found, marks, strict=True) if p in REFUSED and not pasted}
    )


def render(value: Any, text: str, place: str) -> str:
    """``value`` (whose plain text is ``text``) as written at ``place``."""
    if place in (BASH_WORD,):
        return shlex.quote(text)
    if place == BASH_SINGLE:
        return text.replace("'", "'\\''")
    if place == BASH_DOUBLE:
        return "".join("\\" + c if c in '\\"$`' else c for c in text)
    if place in (BASH_HEREDOC, BASH_RAW_HEREDOC):
        if "\n" in text or "\r" in text:
            raise ExprError(
                "a value with a line break cannot be put in a heredoc (it could end it): read "
                "it from its param's environment variable ($PODIUM_PARAM_NAME) instead"
            )
        if place == BASH_HEREDOC:
            return "".join("\\" + c if c in "\\$`" else c for c in text)
        return text
    if place in (BASH_COMMENT, PY_COMMENT):
        return text.replace("\r", " ").replace("\n", " ")
    if place == PY_CODE:
        return python_literal(value)
    if place.startswith("str:"):
        return _in_python_string(text, place[4:])
    raise ExprError(REFUSED.get(place, f"`${{ }}` cannot be rendered here ({place})"))


def python_literal(value: Any) -> str:
    """A Python expression that evaluates to ``value`` (a JSON value) and does nothing else."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(
            f"{python_literal(str(key))}: {python_literal(item)}" for key, item in value.items()
        )
        return "{" + items + "}"
    return repr(str(value))


def _in_python_string(text: str, quote: str) -> str:
    out = []
    for char in text:
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 32 or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


# -- bash -------------------------------------------------------------------------------

_OPERATORS = " \t\n;|&()<>"


def _bash_places(text: str, count: int) -> tuple[str, ...]:
    found: list[str] = []
    stack: list[tuple[str, int]] = [(BASH_WORD, 0)]  # (mode, paren depth of a $( ))
    heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, expands, strip tabs)
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        mode = stack[-1][0]
        if char == MARK:
            found.append(BASH_WORD if mode == "subst" else mode)
            index += 1
            continue
        if mode == BASH_SINGLE:
            if char == "'":
                stack.pop()
            index += 1
            continue
        if mode == BASH_DOUBLE:
            if char == "\\":
                index += 2
            elif char == '"':
                stack.pop()
                index += 1
            elif text.startswith("$(", index):
                stack.append(("subst", 0))
                index += 2
            elif char == "`":
                stack.append((BASH_BACKTICK, 0))
                index += 1
            else:
                index += 1
            continue
        # Unquoted: the script itself, a $( ) or backticks.
        if char == "\\":
            index += 2
        elif char == "'":
            stack.append((BASH_SINGLE, 0))
            index += 1
        elif char == '"':
            stack.append((BASH_DOUBLE, 0))
            index += 1
        elif char == "`":
            if mode == BASH_BACKTICK:
                stack.pop()
            else:
                stack.append((BASH_BACKTICK, 0))
            index += 1
        elif text.startswith("$(", index):
            stack.append(("subst", 0))
            index += 2
        elif char == "(" and mode == "subst":
            stack[-1] = ("subst", stack[-1][1] + 1)
            index += 1
        elif char == ")" and mode == "subst":
            depth = stack[-1][1]
            if depth == 0:
                stack.pop()
            else:
                stack[-1] = ("subst", depth - 1)
            index += 1
        elif char == "#" and (index == 0 or text[index - 1] in _OPERATORS):
            end = text.find("\n", index)
            end = length if end < 0 else end
            found += [BASH_COMMENT] * text.count(MARK, index, end)
            index = end
        elif text.startswith("<<", index) and not text.startswith("<<<", index):
            index = _heredoc_operator(text, index + 2, heredocs)
        elif char == "\n" and heredocs:
            index = _heredoc_bodies(text, index + 1, heredocs, found)
            heredocs = []
        else:
            index += 1
    found += [BASH_WORD] * (count - len(found))
    return tuple(found[:count])


def _heredoc_operator(text: str, index: int, heredocs: list[tuple[str, bool, bool]]) -> int:
    strip = text.startswith("-", index)
    index += 1 if strip else 0
    while index < len(text) and text[index] in " \t":
        index += 1
    start = index
    while index < len(text) and text[index] not in " \t\n;|&()<>":
        index += 1
    word = text[start:index]
    delimiter = word.replace("'", "").replace('"', "").replace("\\", "")
    if delimiter:
        heredocs.append((delimiter, delimiter == word, strip))
    return index


def _heredoc_bodies(
    text: str, index: int, heredocs: list[tuple[str, bool, bool]], found: list[str]
) -> int:
    for delimiter, expands, strip in heredocs:
        while index < len(text):
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            line = text[index:end]
            index = end + 1
            if (line.lstrip("\t") if strip else line) == delimiter:
                break
            found += [BASH_HEREDOC if expands else BASH_RAW_HEREDOC] * line.count(MARK)
    return index


# -- python -----------------------------------------------------------------------------


def _python_places(pieces: tuple[str, ...]) -> tuple[str, ...]:
    count = len(pieces) - 1
    marks = [f"__podium_expr_{n}__" for n in range(count)]
    source = "".join(piece + (marks[n] if n < count else "") for n, piece in enumerate(pieces))
    where: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return tuple(PY_UNSUPPORTED for _ in range(count))
    for token in tokens:
        for n, mark in enumerate(marks):
            if mark not in token.string:
                continue
            if token.type == tokenize.NAME and token.string == mark:
                where[n] = PY_CODE
            elif token.type == tokenize.COMMENT:
                where[n] = PY_COMMENT
            elif token.type == tokenize.STRING:
                where[n] = _string_place(token.string)
            else:
                where[n] = PY_UNSUPPORTED
    return tuple(where.get(n, PY_UNSUPPORTED) for n in range(count))


def _string_place(literal: str) -> str:
    prefix = ""
    while literal and literal[0] not in "'\"":
        prefix += literal[0].lower()
        literal = literal[1:]
    if set(prefix) - {"u"}:
        return PY_UNSUPPORTED  # f, r, b: no escape keeps a value text there
    return "str:" + literal[0]


def plain_text(value: Any) -> str:
    """The text a value is quoted from: a str as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
