"""PHP's way of reading request parameters: `filter[>ID]=5&select[]=ID` becomes nested arrays.

The portal is PHP; query strings, form bodies, multipart bodies and batch
command strings all go through parse_str, which these functions reproduce
(`+` is a space, `a[]` appends, `a[b][c]` nests, the last duplicate wins).
"""

from __future__ import annotations

import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import unquote_plus

_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)")


def set_php_key(target: dict[str, Any], raw_key: str, value: Any) -> None:
    """Store `value` under a PHP bracket key such as `fields[PHONE][0][VALUE]`."""
    match = _KEY.match(raw_key)
    if not match:
        return
    path = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
    node: Any = target
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if part == "":
            part = str(_next_index(node))
        if last:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def _next_index(node: dict[str, Any]) -> int:
    numbers = [int(key) for key in node if key.isdigit()]
    return max(numbers) + 1 if numbers else 0


def parse_str(query: str) -> dict[str, Any]:
    """Parse a query string like PHP's parse_str, with lists for keys 0..n-1."""
    result: dict[str, Any] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        set_php_key(result, unquote_plus(key), unquote_plus(value))
    return listify(result)


def listify(value: Any) -> Any:
    """Turn dicts keyed 0..n-1 into lists, recursively, as PHP arrays read back in JSON."""
    if isinstance(value, dict):
        converted = {key: listify(item) for key, item in value.items()}
        keys = list(converted)
        if keys and keys == [str(index) for index in range(len(keys))]:
            return [converted[key] for key in keys]
        return converted
    if isinstance(value, list):
        return [listify(item) for item in value]
    return value


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Split a multipart/form-data body into PHP-style fields and uploaded files (name, content)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[str(name)] = (str(filename), payload)
        else:
            set_php_key(fields, str(name), payload.decode("utf-8", errors="replace"))
    return listify(fields), files
