"""Write the example config from the schema: every key with its note, and its default or example value.

`config.example.yaml` is this function's output (a test keeps them equal), so a key added to the schema
appears in the example with its comment, and the example never shows a default the code does not use.
"""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Any

import yaml

from b24sync.schema import NO_EXAMPLE, REQUIRED, Key, Section

WIDTH = 116
INDENT = "  "


def generate_example(schema: Section, header: str) -> str:
    """The commented YAML example of `schema`, preceded by `header` as comment lines."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, spec in schema.keys.items():
        lines.append("")
        lines.extend(_entry(name, spec, 0))
    return "\n".join(lines) + "\n"


def _comment(text: str, depth: int) -> list[str]:
    if not text:
        return []
    prefix = INDENT * depth + "# "
    return textwrap.wrap(text, width=WIDTH, initial_indent=prefix, subsequent_indent=prefix,
                         break_long_words=False, break_on_hyphens=False)


def _sentence(doc: str) -> str:
    text = doc.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text.endswith((".", ")")) else ".")


def _entry(name: str, spec: Key | Section, depth: int) -> list[str]:
    indent = INDENT * depth
    if isinstance(spec, Section):
        lines = _comment(spec.note, depth) + [f"{indent}{name}:"]
        for key, sub in spec.keys.items():
            lines.extend(_entry(key, sub, depth + 1))
        return lines
    value = spec.example if spec.example is not NO_EXAMPLE else spec.default
    if value is REQUIRED or (value is None and not spec.commented):
        raise ValueError(f"'{name}' needs an example value (it has no default) or commented=True")
    lines = _comment(spec.note or _sentence(spec.doc), depth)
    body = _value_lines(name, value, depth)
    if spec.commented:
        body = [f"{indent}# {line[len(indent):]}" for line in body]
    return lines + body


def _value_lines(name: str, value: Any, depth: int) -> list[str]:
    indent = INDENT * depth
    if isinstance(value, dict) and value:
        lines = [f"{indent}{name}:"]
        for key, item in value.items():
            lines.extend(_value_lines(str(key), item, depth + 1))
        return lines
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        lines = [f"{indent}{name}:"]
        for item in value:
            inner = [line for key, sub in item.items() for line in _value_lines(str(key), sub, depth + 2)]
            first = inner[0][len(INDENT * (depth + 2)):]
            lines.append(f"{INDENT * (depth + 1)}- {first}")
            lines.extend(inner[1:])
        return lines
    return [f"{indent}{name}: {_scalar(value)}"]


def _scalar(value: Any) -> str:
    """One value in flow style, quoted only where YAML would read it otherwise."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, date):
        return value.isoformat()
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...").strip()
