"""A small declarative schema for the YAML config.

Each key declares its type, default, a check and a one-line doc. `validate`
walks the whole document and collects every problem at once, each with the
dotted path of the key, so an administrator fixes the file in one pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQUIRED: Any = object()
NO_EXAMPLE: Any = object()

# A check says what is wrong with a value: one message, or (path suffix, message) pairs for the items of a list
# (`[0].category_id`), or None when it is right.
Check = Callable[[Any], "str | list[tuple[str, str]] | None"]


@dataclass(frozen=True)
class Key:
    """One config key: its type(s), default, an extra check and what it is for.

    `note` is the comment the generated example prints above the key (`doc` when empty), `example` the value
    it shows when that is not the default, and `commented` writes the key as a comment (an alternative way,
    or an optional key best left out).
    """

    types: type | tuple[type, ...]
    default: Any = REQUIRED
    check: Check | None = None
    doc: str = ""
    secret: bool = False
    note: str = ""
    example: Any = NO_EXAMPLE
    commented: bool = False


@dataclass(frozen=True)
class Section:
    """A mapping of keys; `default_empty` lets the whole section be omitted."""

    keys: dict[str, Key | Section]
    doc: str = ""
    default_empty: bool = True
    requires_one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    note: str = ""


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list", dict: "a mapping"}


def _type_name(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
    return _TYPE_NAMES.get(types, types.__name__)


def _is_instance(value: Any, types: type | tuple[type, ...]) -> bool:
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:
        return False  # YAML's yes/no must not pass as a number
    if isinstance(value, int) and float in wanted and not isinstance(value, bool):
        return True
    return isinstance(value, wanted)


def validate(section: Section, data: Any, path: str = "") -> tuple[dict[str, Any], list[str]]:
    """Check `data` against `section`; return it with defaults filled in and the problems found.

    Problems are `at 'a.b.c': message` strings.
    """
    problems: list[str] = []
    where = f"at '{path}'" if path else "at the top level"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return {}, [f"{where}: must be a mapping of keys, found {_type_name(type(data))}"]
    result: dict[str, Any] = {}
    for key in data:
        if key not in section.keys:
            hint = difflib.get_close_matches(str(key), list(section.keys), n=1, cutoff=0.6)
            known = ", ".join(sorted(section.keys))
            full = f"{path}.{key}" if path else str(key)
            suggestion = f"did you mean '{hint[0]}'?" if hint else f"known keys here: {known}"
            problems.append(f"at '{full}': unknown key; {suggestion}")
    for name, spec in section.keys.items():
        full = f"{path}.{name}" if path else name
        present = name in data and data[name] is not None
        if isinstance(spec, Section):
            if not present and not spec.default_empty:
                problems.append(f"at '{full}': this section is required")
                continue
            value, sub = validate(spec, data.get(name), full)
            result[name] = value
            problems.extend(sub)
            continue
        if not present:
            if spec.default is REQUIRED:
                problems.append(f"at '{full}': required; {spec.doc}")
            result[name] = None if spec.default is REQUIRED else spec.default
            continue
        value = data[name]
        if not _is_instance(value, spec.types):
            shown = f" {_type_name(type(value))}" if spec.secret else f" {value!r}"  # a secret's type, never it
            problems.append(f"at '{full}': must be {_type_name(spec.types)}, found{shown}")
            result[name] = spec.default if spec.default is not REQUIRED else None
            continue
        if spec.check is not None:
            message = spec.check(value)
            if isinstance(message, list):
                problems.extend(f"at '{full}{suffix}': {text}" for suffix, text in message)
            elif message:
                problems.append(f"at '{full}': {message}")
        result[name] = value
    for group in section.requires_one_of:
        given = [name for name in group if result.get(name) not in (None, "")]
        if len(given) > 1:
            names = " and ".join(f"'{path}.{name}'" for name in given)
            problems.append(f"at '{path}': give only one of {names}")
    return result, problems


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"must be one of {', '.join(choices)}; found {value!r}"
        return None

    return check


def number_between(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}; found {value!r}"
        return None

    return check
