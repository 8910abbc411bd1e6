"""How the 1C emulator shows an object: `$select` (checked against the schema), presentations, `$expand`,
navigation links, the `@Element` envelope of a single entity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from b24sync_emulators.onec.base import Base
from b24sync_emulators.onec.query import QueryError
from b24sync_emulators.onec.schema import ZERO_GUID, Entity


class Renderer:
    """Records to the JSON objects the platform prints; `url` turns a tail into an absolute service URL."""

    def __init__(self, base: Base, url: Callable[[str], str]) -> None:
        self.base = base
        self.url = url

    def entity(self, entity: Entity, record: dict[str, Any], *, element: bool = False,
               select: str | None = None, expand: str | None = None) -> dict[str, Any]:
        """One object as printed: selected fields, presentations on request, links, expanded references."""
        shown: dict[str, Any] = {}
        if element:
            shown["odata.metadata"] = self.url(f"$metadata#{entity.name}/@Element")
        names = list(record)
        columns: dict[str, set[str]] = {}  # tabular section -> selected row fields ("Товары/Цена")
        through: dict[str, list[str]] = {}  # expanded reference -> its selected fields ("Контрагент/ИНН")
        presentations: list[str] = []  # "X____Presentation", "Presentation": only when selected
        expanded = self.expanded(entity, expand)
        if select and select.strip() not in ("*", ""):
            wanted = self.check_select(entity, select, expanded)
            if "**" in wanted:
                wanted = [name for name in record if entity.table(name) is None] + wanted
            for name in wanted:
                table_name, _, column = name.partition("/")
                if column and table_name in expanded and entity.table(table_name) is None:
                    through.setdefault(table_name, []).append(column)
                elif column:
                    columns.setdefault(table_name, set()).add(column)
                elif name == "*____Presentation":
                    presentations += [f"{prop.name}____Presentation" for prop in entity.props if prop.kind == "ref"]
                elif name.endswith("____Presentation") or name == "Presentation":
                    presentations.append(name)
            names = [name for name in record if name in wanted or "*" in wanted or name in columns]
        for name in names:
            if name in columns:
                keep = columns[name] | {"Ref_Key", "LineNumber"}
                shown[name] = [{key: value for key, value in row.items()
                                if key in keep or key.removesuffix("_Type") in keep} for row in record[name]]
            else:
                shown[name] = record[name]
        for name in presentations:
            shown[name] = self.presentation(entity, record, name.removesuffix("____Presentation"))
        if not entity.computed:
            for prop in entity.props:
                if prop.kind == "ref" and (not select or f"{prop.name}_Key" in names) and \
                        record.get(f"{prop.name}_Key", ZERO_GUID) != ZERO_GUID:
                    shown[f"{prop.name}@navigationLinkUrl"] = (f"{entity.name}(guid'{record['Ref_Key']}')/"
                                                                f"{prop.name}")
        for name in expanded:
            prop = entity.prop(f"{name}_Key")
            if prop is not None:
                target_name, key, shown_as = prop.target or "", record.get(f"{name}_Key", ""), name
            else:  # a composite: its type says where it points; shown as X_Expanded
                target_name = str(record.get(f"{name}_Type", "")).removeprefix("StandardODATA.")
                key, shown_as = str(record.get(name, "")), f"{name}_Expanded"
            target = self.base.get(target_name, key) if target_name in self.base.entities else None
            if target is not None:
                shown[shown_as] = self.entity(self.base.entities[target_name], target,
                                              select=",".join(through[name]) if name in through else None)
        return shown

    def check_select(self, entity: Entity, select: str, expanded: list[str] | None = None) -> list[str]:
        """The `$select` names, refused as a whole when one is not a property (even if no row matches); a field
        of a reference (`Контрагент/ИНН`) only with that reference in `$expand` (ODATA.md §5)."""
        known = set(self.base.blank(entity))
        wanted = [name.strip() for name in select.split(",")]
        for name in wanted:
            table_name, _, column = name.partition("/")
            prop = entity.prop(f"{table_name}_Key") if column and table_name in (expanded or []) else None
            if prop is not None and (prop.target or "") in self.base.entities and \
                    column in self.base.blank(self.base.entities[prop.target or ""]):
                continue
            table = entity.table(table_name) if column else None
            if table is not None and (column in ("Ref_Key", "LineNumber")
                                      or any(column in prop.wire_names for prop in table.props)):
                continue
            presented = name.removesuffix("____Presentation")
            if name in ("*", "**", "*____Presentation", "Presentation") or (
                    not column and name in known) or (presented != name and entity.prop(f"{presented}_Key")):
                continue
            raise QueryError(400, "10", f"Свойство «{name}» не найдено")
        return wanted

    def presentation(self, entity: Entity, record: dict[str, Any], name: str) -> str:
        """What 1C shows for an object or a reference: a catalog item's name, a document's title."""
        if name != "Presentation":
            prop = entity.prop(f"{name}_Key")
            target = self.base.get(prop.target or "", record.get(f"{name}_Key", "")) if prop else None
            if prop is None or target is None or (prop.target or "") not in self.base.entities:
                return ""
            entity, record = self.base.entities[prop.target or ""], target
        if entity.kind == "Document":
            return self.base.title(entity.name, record)
        return str(record.get("Description", ""))

    def expanded(self, entity: Entity, expand: str | None) -> list[str]:
        """The references `$expand` names (`*`: all of them); their objects are inlined under the name."""
        if not expand:
            return []
        names = [item.strip().split("/")[0] for item in expand.split(",") if item.strip()]
        if "*" in names:
            return [prop.name for prop in entity.props if prop.kind == "ref"]
        return names
