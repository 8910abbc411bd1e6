"""`$metadata`: the CSDL document describing what the base publishes (XML only, as the platform serves it)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from b24sync_emulators.onec.schema import GUID, INT64, STRING, Entity, Prop

STANDARD_NOT_NULL = {"Ref_Key", "LineNumber"}
# enumerations by the configuration's own names and values (ODATA.md §10.3); JSON still carries value names,
# `$metadata` declares each as an EnumType over Edm.Int32 (ODATA.md §4, samples/metadata.bp30.excerpt.xml)
ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Document_ЗаказКлиента.Статус": ("СтатусыЗаказовКлиентов", ("НеСогласован", "КОбеспечению", "КОтгрузке",
                                                               "Закрыт")),
    "Состояние": ("СостоянияЗаказовКлиентов", (
        "ОжидаетсяСогласование", "ОжидаетсяАвансДоОбеспечения", "ГотовКОбеспечению", "ОжидаетсяПредоплатаДоОтгрузки",
        "ОжидаетсяОбеспечение", "ГотовКОтгрузке", "ВПроцессеОтгрузки", "ОжидаетсяОплатаПослеОтгрузки",
        "ГотовКЗакрытию", "Закрыт")),
    "ХозяйственнаяОперация": ("ХозяйственныеОперации", ("РеализацияКлиенту",)),
    "НалогообложениеНДС": ("ТипыНалогообложенияНДС", ("ПродажаОблагаетсяНДС", "ПродажаНеОблагаетсяНДС")),
    "СтавкаНДС": ("СтавкиНДС", ("НДС20", "НДС10", "НДС0", "БезНДС")),
    "УдалитьСтавкаНДС": ("СтавкиНДС", ("НДС20", "НДС10", "НДС0", "БезНДС")),
    "ФормаОплаты": ("ФормыОплаты", ("Безналичная", "Наличная", "ПлатежнаяКарта")),
    "ЮрФизЛицо": ("ЮрФизЛицо", ("ЮрЛицо", "ФизЛицо", "ИндивидуальныйПредприниматель")),
    "ЮридическоеФизическоеЛицо": ("ЮридическоеФизическоеЛицо", ("ЮридическоеЛицо", "ФизическоеЛицо")),
}


def enum_type(owner: str, name: str) -> tuple[str, tuple[str, ...]]:
    """The EnumType of an enumeration property: its name and members (others: named after the property)."""
    return ENUMS.get(f"{owner}.{name}") or ENUMS.get(name) or (name, ())


def _enum_types(entities: dict[str, Entity]) -> list[str]:
    declared: dict[str, tuple[str, ...]] = {}
    for entity in entities.values():
        for owner, props in ((entity.name, entity.props), *((entity.name, table.props) for table in entity.tables)):
            for prop in props:
                if prop.kind == "enum":
                    type_name, members = enum_type(owner, prop.name)
                    declared[type_name] = members or declared.get(type_name, ())
    return [f"<EnumType Name={quoteattr(type_name)} UnderlyingType=\"Edm.Int32\">"
            + "".join(f"<Member Name={quoteattr(member)}/>" for member in members) + "</EnumType>"
            for type_name, members in declared.items()]


def _property(name: str, edm: str) -> str:
    nullable = "false" if name in STANDARD_NOT_NULL else "true"
    return f"<Property Name={quoteattr(name)} Type={quoteattr(edm)} Nullable={quoteattr(nullable)}/>"


def _properties(props: tuple[Prop, ...], owner: str = "") -> list[str]:
    lines = []
    for prop in props:
        if prop.kind == "enum":
            lines.append(_property(prop.name, f"StandardODATA.{enum_type(owner, prop.name)[0]}"))
        elif prop.kind == "ref":
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
        parts.extend(_properties(entity.props, entity.name))
        for table in entity.tables:
            row_type = f"{entity.name}_{table.name}_RowType"
            parts.append(_property(table.name, f"Collection(StandardODATA.{row_type})"))
        parts.extend(_navigation(entity.name, entity.props))
        parts.append("</EntityType>")
        associations.extend(_associations(entity.name, entity.props, entities))
        sets.append(entity.name)
        for table in entity.tables:
            row_type = f"{entity.name}_{table.name}_RowType"
            columns = _properties(tuple(prop for prop in table.props if prop.name != "LineNumber"), entity.name)
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
    parts.extend(_enum_types(entities))
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
