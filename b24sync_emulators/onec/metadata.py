"""`$metadata`: the CSDL document describing what the base publishes (XML only, as the platform serves it)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from b24sync_emulators.onec.schema import GUID, INT64, STRING, Entity, Prop

STANDARD_NOT_NULL = {"Ref_Key", "LineNumber"}


def _property(name: str, edm: str) -> str:
    nullable = "false" if name in STANDARD_NOT_NULL else "true"
    return f"<Property Name={quoteattr(name)} Type={quoteattr(edm)} Nullable={quoteattr(nullable)}/>"


def _properties(props: tuple[Prop, ...]) -> list[str]:
    lines = []
    for prop in props:
        if prop.kind == "ref":
            lines.append(_property(f"{prop.name}_Key", GUID))
        elif prop.kind == "composite":
            lines.append(_property(prop.name, STRING))
            lines.append(_property(f"{prop.name}_Type", STRING))
        else:
            lines.append(_property(prop.name, prop.edm))
    return lines


def _navigation(owner: str, props: tuple[Prop, ...]) -> list[str]:
    return [f"<NavigationProperty Name={quoteattr(prop.name)} Relationship="
            f"{quoteattr(f'StandardODATA.{owner}_{prop.name}')} FromRole=\"Begin\" ToRole=\"End\"/>"
            for prop in props if prop.kind == "ref"]


def _associations(owner: str, props: tuple[Prop, ...], published: dict[str, Entity]) -> list[str]:
    """The Association each NavigationProperty names, so that a strict CSDL reader accepts the document."""
    return [f"<Association Name={quoteattr(f'{owner}_{prop.name}')}>"
            f"<End Role=\"Begin\" Type={quoteattr(f'StandardODATA.{owner}')} Multiplicity=\"*\"/>"
            f"<End Role=\"End\" Type={quoteattr(f'StandardODATA.{prop.target}')} Multiplicity=\"0..1\"/>"
            f"</Association>" for prop in props if prop.kind == "ref" and prop.target in published]


def render(entities: dict[str, Entity]) -> str:
    """The CSDL for these entities: entity types, tabular sections (a row type and a read-only entity set each),
    the associations behind navigation properties, and the container with Post/Unpost in the `Default` schema."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">',
        '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
        'm:DataServiceVersion="3.0" m:MaxDataServiceVersion="3.0">',
        '<Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm" Namespace="StandardODATA">',
    ]
    associations: list[str] = []
    sets: list[str] = []
    for entity in entities.values():
        key = "".join(f"<PropertyRef Name={quoteattr(name)}/>" for name in entity.dimensions or ("Ref_Key",))
        parts.append(f"<EntityType Name={quoteattr(entity.name)} OpenType=\"true\"><Key>{key}</Key>")
        parts.extend(_properties(entity.props))
        for table in entity.tables:
            row_type = f"{entity.name}_{table.name}_RowType"
            parts.append(_property(table.name, f"Collection(StandardODATA.{row_type})"))
        parts.extend(_navigation(entity.name, entity.props))
        parts.append("</EntityType>")
        associations.extend(_associations(entity.name, entity.props, entities))
        sets.append(entity.name)
        for table in entity.tables:
            row_type = f"{entity.name}_{table.name}_RowType"
            columns = _properties(tuple(prop for prop in table.props if prop.name != "LineNumber"))
            parts.append(f"<ComplexType Name={quoteattr(row_type)}>")
            parts.append(_property("Ref_Key", GUID))
            parts.extend(columns)
            parts.append(_property("LineNumber", INT64))
            parts.append("</ComplexType>")
            table_set = f"{entity.name}_{table.name}"
            parts.append(f"<EntityType Name={quoteattr(table_set)} OpenType=\"true\"><Key>"
                         '<PropertyRef Name="Ref_Key"/><PropertyRef Name="LineNumber"/></Key>')
            parts.append(_property("Ref_Key", GUID))
            parts.append(_property("LineNumber", INT64))
            parts.extend(columns)
            parts.append("</EntityType>")
            sets.append(table_set)
    parts.extend(associations)
    parts.append("</Schema>")
    parts.append('<Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">')
    parts.append('<EntityContainer Name="EnterpriseV8" m:IsDefaultEntityContainer="true">')
    for name in sets:
        parts.append(f"<EntitySet Name={quoteattr(name)} EntityType={quoteattr(f'StandardODATA.{name}')}/>")
    for entity in entities.values():
        if entity.postable:
            binding = quoteattr(f"StandardODATA.{entity.name}")
            for function in ("Post", "Unpost"):
                parts.append(f'<FunctionImport Name="{function}" IsBindable="true" IsSideEffecting="true">'
                             f'<Parameter Name="bindingParameter" Type={binding}/>'
                             f'<Parameter Name="PostingModeOperational" Type="Edm.Boolean"/></FunctionImport>')
    parts += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(parts)
