"""The Atom form of OData answers: what the platform sends when a client asks for neither JSON nor a format.

The default format of the standard OData interface is Atom (`feed/entry/content/m:properties/d:<Field>`,
empty strings as `<d:X/>`, nulls as `m:null="true"`, tabular sections as collections of `d:element`).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

NAMESPACES = ('xmlns="http://www.w3.org/2005/Atom" '
              'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
              'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"')


def _value(name: str, value: Any, entity: str) -> str:
    if value is None:
        return f'<d:{name} m:null="true"/>'
    if isinstance(value, list):
        row_type = f"StandardODATA.{entity}_{name}_RowType"
        if not value:
            return f'<d:{name} m:type="Collection({row_type})"/>'
        rows = "".join(f'<d:element m:type="{row_type}">' + "".join(_value(key, item, entity) for key, item in
                                                                  row.items()) + "</d:element>" for row in value)
        return f'<d:{name} m:type="Collection({row_type})">{rows}</d:{name}>'
    if isinstance(value, bool):
        return f"<d:{name}>{'true' if value else 'false'}</d:{name}>"
    text = str(value)
    return f"<d:{name}/>" if text == "" else f"<d:{name}>{escape(text)}</d:{name}>"


def entry(record: dict[str, Any], entity: str, base: str, updated: str) -> str:
    key = f"{entity}(guid'{record.get('Ref_Key', '')}')" if "Ref_Key" in record else entity
    properties = "".join(_value(name, value, entity) for name, value in record.items()
                         if not name.startswith("odata.") and "@" not in name)
    links = "".join(f'<link rel="http://schemas.microsoft.com/ado/2007/08/dataservices/related/{name.split("@")[0]}" '
                    f'href={quoteattr(value)} type="application/atom+xml;type=entry;charset=utf-8" '
                    f'title="{name.split("@")[0]}"/>'
                    for name, value in record.items() if name.endswith("@navigationLinkUrl"))
    return (f"<entry><id>{escape(base + key)}</id><category term=\"StandardODATA.{entity}\" "
            f"scheme=\"http://schemas.microsoft.com/ado/2007/08/dataservices/scheme\"/><title type=\"text\"/>"
            f"<updated>{updated}</updated><author/><summary/>{links}<link rel=\"edit\" href={quoteattr(key)} "
            f"title=\"edit link\"/><content type=\"application/xml\"><m:properties>{properties}</m:properties>"
            f"</content></entry>")


def render(payload: Any, base: str, updated: str) -> tuple[str, str]:
    """(body, content type) for a JSON payload of a list, an entity or the service root; `updated` is the
    server's local time, as the platform prints it."""
    metadata = str(payload.get("odata.metadata", "")) if isinstance(payload, dict) else ""
    target = metadata.partition("#")[2]
    if target.endswith("/@Element"):
        entity = target.removesuffix("/@Element")
        body = ('<?xml version="1.0" encoding="UTF-8"?>' + entry(payload, entity, base, updated)
                .replace("<entry>", f"<entry {NAMESPACES} xml:base={quoteattr(base)}>", 1))
        return body, "application/atom+xml;type=entry;charset=utf-8"
    if target and not isinstance(payload.get("value"), list):  # one property's value: `.../Валюта/Description`
        name = target.rpartition("/")[2]
        value = _value(name, payload.get("value"), target.partition("/")[0])
        body = '<?xml version="1.0" encoding="UTF-8"?>' + value.replace(
            f"<d:{name}", f'<d:{name} xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
                          f'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"', 1)
        return body, "application/xml;charset=utf-8"
    if target:
        entries = "".join(entry(row, target, base, updated) for row in payload.get("value", []))
        count = (f"<m:count>{payload['odata.count']}</m:count>" if "odata.count" in payload else "")
        body = (f'<?xml version="1.0" encoding="UTF-8"?><feed {NAMESPACES} xml:base={quoteattr(base)}>'
                f"<id>{escape(base + target)}</id><title type=\"text\">{escape(target)}</title>"
                f"<updated>{updated}</updated><author/><link rel=\"self\" href={quoteattr(target)} "
                f"title={quoteattr(target)}/>{count}{entries}</feed>")
        return body, "application/atom+xml;type=feed;charset=utf-8"
    collections = "".join(f'<collection href={quoteattr(item["url"])}><atom:title>{escape(item["name"])}'
                          f"</atom:title></collection>" for item in payload.get("value", []))
    body = (f'<?xml version="1.0" encoding="UTF-8"?><service xmlns="http://www.w3.org/2007/app" '
            f'xmlns:atom="http://www.w3.org/2005/Atom" xml:base={quoteattr(base)}><workspace><atom:title>Default'
            f"</atom:title>{collections}</workspace></service>")
    return body, "application/atomsvc+xml;charset=utf-8"
