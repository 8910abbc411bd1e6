"""Reading the base's `$metadata`: what is published, and in which form.

b24sync reads it once per process to check, before any write, that every
entity and property its profile needs is published, and to learn how the
base represents VAT in order rows (`СтавкаНДС_Key` in УТ 11.5, `СтавкаНДС`
as an enum in older УТ 11 and БП 3.0).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


@dataclass
class Metadata:
    """Published entity types and their properties, and the row types of their tabular sections."""

    entities: dict[str, set[str]] = field(default_factory=dict)
    row_types: dict[str, set[str]] = field(default_factory=dict)  # "<Entity>_<Table>" -> properties

    @classmethod
    def parse(cls, xml_text: str) -> Metadata:
        root = ET.fromstring(xml_text.lstrip("\ufeff").encode("utf-8"))
        result = cls()
        for element in root.iter():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag not in ("EntityType", "ComplexType"):
                continue
            name = element.get("Name", "")
            properties = {child.get("Name", "") for child in element
                          if child.tag.rsplit("}", 1)[-1] in ("Property", "NavigationProperty")}
            if tag == "EntityType":
                result.entities[name] = properties
            elif name.endswith("_RowType"):
                result.row_types[name.removesuffix("_RowType")] = properties
        return result

    def has(self, entity: str) -> bool:
        return entity in self.entities

    def fields(self, entity: str) -> set[str]:
        return self.entities.get(entity, set())

    def row_fields(self, entity: str, table: str) -> set[str]:
        return self.row_types.get(f"{entity}_{table}", set())

    def vat_form(self, entity: str, table: str = "Товары") -> str | None:
        """"catalog" when rows carry СтавкаНДС_Key, "enum" when they carry СтавкаНДС, None when neither."""
        row = self.row_fields(entity, table)
        if "СтавкаНДС_Key" in row:
            return "catalog"
        if "СтавкаНДС" in row:
            return "enum"
        return None

    def missing(self, needs: dict[str, tuple[str, ...]]) -> list[tuple[str, str | None]]:
        """(entity, property) pairs that are not published; property None when the whole entity is missing.

        A property written `Table/Field` is looked up in the table's row type.
        """
        absent: list[tuple[str, str | None]] = []
        for entity, properties in needs.items():
            if entity not in self.entities:
                absent.append((entity, None))
                continue
            for name in properties:
                table, _, column = name.partition("/")
                if column:
                    if table not in self.entities[entity] or column not in self.row_fields(entity, table):
                        absent.append((entity, name))
                elif name not in self.entities[entity]:
                    absent.append((entity, name))
        return absent
