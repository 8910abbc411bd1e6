"""Field definitions of the legacy crm.* entities, as `crm.*.fields` describes them.

Each entry: name -> (type, title, flags). Flags: r read-only, i immutable, m
multiple, q required. Types drive the filter engine and the wire form of values.
"""

from __future__ import annotations

from typing import Any

Spec = tuple[str, str, str]

DEAL: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"),
    "TITLE": ("string", "Название", ""),
    "TYPE_ID": ("crm_status", "Тип", ""),
    "STAGE_ID": ("crm_status", "Стадия сделки", ""),
    "PROBABILITY": ("integer", "Вероятность", ""),
    "CURRENCY_ID": ("crm_currency", "Валюта", ""),
    "OPPORTUNITY": ("double", "Сумма", ""),
    "IS_MANUAL_OPPORTUNITY": ("char", "IS_MANUAL_OPPORTUNITY", ""),
    "TAX_VALUE": ("double", "Ставка налога", ""),
    "LEAD_ID": ("crm_lead", "Лид", "r"),
    "COMPANY_ID": ("crm_company", "Компания", ""),
    "CONTACT_ID": ("crm_contact", "Контакт", ""),
    "QUOTE_ID": ("crm_quote", "Предложение", "r"),
    "BEGINDATE": ("date", "Дата начала", ""),
    "CLOSEDATE": ("date", "Дата завершения", ""),
    "ASSIGNED_BY_ID": ("user", "Ответственный", ""),
    "CREATED_BY_ID": ("user", "Кем создана", "r"),
    "MODIFY_BY_ID": ("user", "Кем изменена", "r"),
    "DATE_CREATE": ("datetime", "Дата создания", "r"),
    "DATE_MODIFY": ("datetime", "Дата изменения", "r"),
    "OPENED": ("char", "Доступна для всех", ""),
    "CLOSED": ("char", "Закрыта", ""),
    "COMMENTS": ("string", "Комментарий", ""),
    "ADDITIONAL_INFO": ("string", "Дополнительная информация", ""),
    "LOCATION_ID": ("location", "Местоположение", ""),
    "CATEGORY_ID": ("crm_category", "Воронка", "i"),
    "STAGE_SEMANTIC_ID": ("string", "Группа стадии", "r"),
    "IS_NEW": ("char", "Новая сделка", "r"),
    "IS_RECURRING": ("char", "Регулярная сделка", ""),
    "IS_RETURN_CUSTOMER": ("char", "Повторная сделка", ""),
    "IS_REPEATED_APPROACH": ("char", "Повторное обращение", ""),
    "SOURCE_ID": ("crm_status", "Источник", ""),
    "SOURCE_DESCRIPTION": ("string", "Дополнительно об источнике", ""),
    "ORIGINATOR_ID": ("string", "Внешний источник", ""),
    "ORIGIN_ID": ("string", "Идентификатор элемента во внешнем источнике", ""),
    "MOVED_BY_ID": ("user", "MOVED_BY_ID", "r"),
    "MOVED_TIME": ("datetime", "MOVED_TIME", "r"),
    "LAST_ACTIVITY_TIME": ("datetime", "LAST_ACTIVITY_TIME", "r"),
    "UTM_SOURCE": ("string", "Рекламная система", ""),
    "UTM_MEDIUM": ("string", "Тип трафика", ""),
    "UTM_CAMPAIGN": ("string", "Обозначение рекламной кампании", ""),
    "UTM_CONTENT": ("string", "Содержание кампании", ""),
    "UTM_TERM": ("string", "Условие поиска кампании", ""),
    "LAST_ACTIVITY_BY": ("user", "LAST_ACTIVITY_BY", "r"),
    "CONTACT_IDS": ("crm_contact", "Контакты", "m"),
}
DEAL_STATUS_TYPES = {"TYPE_ID": "DEAL_TYPE", "STAGE_ID": "DEAL_STAGE", "SOURCE_ID": "SOURCE"}
# Written through the API but never returned by crm.deal.get/list (use crm.deal.contact.items.get).
DEAL_WRITE_ONLY = {"CONTACT_IDS"}

CONTACT: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "POST": ("string", "Должность", ""), "COMMENTS": ("string", "Комментарий", ""),
    "HONORIFIC": ("crm_status", "Обращение", ""), "NAME": ("string", "Имя", ""),
    "SECOND_NAME": ("string", "Отчество", ""), "LAST_NAME": ("string", "Фамилия", ""),
    "PHOTO": ("file", "Фотография", ""), "LEAD_ID": ("crm_lead", "Лид", "r"),
    "TYPE_ID": ("crm_status", "Тип контакта", ""), "SOURCE_ID": ("crm_status", "Источник", ""),
    "SOURCE_DESCRIPTION": ("string", "Дополнительно об источнике", ""),
    "COMPANY_ID": ("crm_company", "Компания", ""), "BIRTHDATE": ("date", "Дата рождения", ""),
    "EXPORT": ("char", "Участвует в экспорте контактов", ""), "HAS_PHONE": ("char", "Задан телефон", "r"),
    "HAS_EMAIL": ("char", "Задан e-mail", "r"), "HAS_IMOL": ("char", "Задана открытая линия", "r"),
    "DATE_CREATE": ("datetime", "Дата создания", "r"), "DATE_MODIFY": ("datetime", "Дата изменения", "r"),
    "ASSIGNED_BY_ID": ("user", "Ответственный", ""), "CREATED_BY_ID": ("user", "Кем создан", "r"),
    "MODIFY_BY_ID": ("user", "Кем изменён", "r"), "OPENED": ("char", "Доступен для всех", ""),
    "ORIGINATOR_ID": ("string", "Внешний источник", ""), "ORIGIN_ID": ("string", "Идентификатор элемента", ""),
    "LAST_ACTIVITY_TIME": ("datetime", "LAST_ACTIVITY_TIME", "r"),
    "PHONE": ("crm_multifield", "Телефон", "m"), "EMAIL": ("crm_multifield", "E-mail", "m"),
}

COMPANY: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "COMPANY_TYPE": ("crm_status", "Тип компании", ""),
    "TITLE": ("string", "Название компании", "q"), "LOGO": ("file", "Логотип", ""),
    "LEAD_ID": ("crm_lead", "Лид", "r"), "HAS_PHONE": ("char", "Задан телефон", "r"),
    "HAS_EMAIL": ("char", "Задан e-mail", "r"), "HAS_IMOL": ("char", "Задана открытая линия", "r"),
    "ASSIGNED_BY_ID": ("user", "Ответственный", ""), "CREATED_BY_ID": ("user", "Кем создана", "r"),
    "MODIFY_BY_ID": ("user", "Кем изменена", "r"), "BANKING_DETAILS": ("string", "Банковские реквизиты", ""),
    "INDUSTRY": ("crm_status", "Сфера деятельности", ""), "REVENUE": ("double", "Годовой оборот", ""),
    "CURRENCY_ID": ("crm_currency", "Валюта", ""), "EMPLOYEES": ("crm_status", "Кол-во сотрудников", ""),
    "COMMENTS": ("string", "Комментарий", ""), "DATE_CREATE": ("datetime", "Дата создания", "r"),
    "DATE_MODIFY": ("datetime", "Дата изменения", "r"), "OPENED": ("char", "Доступна для всех", ""),
    "IS_MY_COMPANY": ("char", "Моя компания", ""), "ORIGINATOR_ID": ("string", "Внешний источник", ""),
    "ORIGIN_ID": ("string", "Идентификатор элемента", ""), "ADDRESS": ("string", "Адрес", ""),
    "REG_ADDRESS": ("string", "Юридический адрес", ""),
    "LAST_ACTIVITY_TIME": ("datetime", "LAST_ACTIVITY_TIME", "r"),
    "PHONE": ("crm_multifield", "Телефон", "m"), "EMAIL": ("crm_multifield", "E-mail", "m"),
}

REQUISITE: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "ENTITY_TYPE_ID": ("integer", "Тип родительской сущности", "q"),
    "ENTITY_ID": ("integer", "ID родительской сущности", "q"), "PRESET_ID": ("integer", "Шаблон", "q"),
    "DATE_CREATE": ("datetime", "Дата создания", "r"), "DATE_MODIFY": ("datetime", "Дата изменения", "r"),
    "CREATED_BY_ID": ("user", "Кем создан", "r"), "MODIFY_BY_ID": ("user", "Кем изменён", "r"),
    "NAME": ("string", "Название", "q"), "CODE": ("string", "Символьный код", ""),
    "XML_ID": ("string", "Внешний ключ", ""), "ORIGINATOR_ID": ("string", "Внешний источник", ""),
    "ACTIVE": ("char", "Активен", ""), "ADDRESS_ONLY": ("char", "Только адрес", ""),
    "SORT": ("integer", "Сортировка", ""), "RQ_NAME": ("string", "ФИО", ""),
    "RQ_FIRST_NAME": ("string", "Имя", ""), "RQ_LAST_NAME": ("string", "Фамилия", ""),
    "RQ_SECOND_NAME": ("string", "Отчество", ""), "RQ_COMPANY_NAME": ("string", "Сокращённое наименование", ""),
    "RQ_COMPANY_FULL_NAME": ("string", "Полное наименование", ""),
    "RQ_COMPANY_REG_DATE": ("string", "Дата государственной регистрации", ""),
    "RQ_DIRECTOR": ("string", "Генеральный директор", ""), "RQ_ACCOUNTANT": ("string", "Главный бухгалтер", ""),
    "RQ_EMAIL": ("string", "E-mail", ""), "RQ_PHONE": ("string", "Телефон", ""),
    "RQ_INN": ("string", "ИНН", ""), "RQ_KPP": ("string", "КПП", ""), "RQ_OGRN": ("string", "ОГРН", ""),
    "RQ_OGRNIP": ("string", "ОГРНИП", ""), "RQ_OKPO": ("string", "ОКПО", ""),
    "RQ_VAT_PAYER": ("char", "Плательщик НДС", ""),
}

_ADDRESS = ["ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE",
            "ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE", "ADDRESS_LOC_ADDR_ID"]
_UTM = ["UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM"]


def _extend(spec: dict[str, Spec], names: list[str], before: str | None = None) -> None:
    """Add plain string fields (addresses, UTM, rarely used requisites) in the portal's order."""
    for name in names:
        spec.setdefault(name, ("string", name, ""))
    if before:  # keep multi-fields last, as the portal prints them
        for name in [name for name in spec if name in ("PHONE", "EMAIL")]:
            spec[name] = spec.pop(name)


_extend(CONTACT, ["ORIGIN_VERSION", "FACE_ID", *[n for n in _ADDRESS if n != "ADDRESS_COUNTRY_CODE"], *_UTM,
                  "LAST_ACTIVITY_BY"], before="PHONE")
CONTACT["LAST_ACTIVITY_BY"] = ("user", "LAST_ACTIVITY_BY", "r")
_extend(COMPANY, ["ORIGIN_VERSION", *_ADDRESS, "ADDRESS_LEGAL", "REG_ADDRESS", "REG_ADDRESS_2", "REG_ADDRESS_CITY",
                  "REG_ADDRESS_POSTAL_CODE", "REG_ADDRESS_REGION", "REG_ADDRESS_PROVINCE", "REG_ADDRESS_COUNTRY",
                  "REG_ADDRESS_COUNTRY_CODE", "REG_ADDRESS_LOC_ADDR_ID", *_UTM, "LAST_ACTIVITY_BY",
                  "LAST_COMMUNICATION_TIME"], before="PHONE")
COMPANY["LAST_ACTIVITY_BY"] = ("user", "LAST_ACTIVITY_BY", "r")
COMPANY["LAST_COMMUNICATION_TIME"] = ("datetime", "LAST_COMMUNICATION_TIME", "r")
_extend(REQUISITE, [
    "RQ_COMPANY_ID", "RQ_CEO_NAME", "RQ_CEO_WORK_POS", "RQ_CONTACT", "RQ_FAX", "RQ_IDENT_TYPE", "RQ_IDENT_DOC",
    "RQ_IDENT_DOC_SER", "RQ_IDENT_DOC_NUM", "RQ_IDENT_DOC_PERS_NUM", "RQ_IDENT_DOC_DATE", "RQ_IDENT_DOC_ISSUED_BY",
    "RQ_IDENT_DOC_DEP_CODE", "RQ_USRLE", "RQ_IFNS", "RQ_OKTMO", "RQ_OKVED", "RQ_EDRPOU", "RQ_DRFO", "RQ_KBE",
    "RQ_IIN", "RQ_BIN", "RQ_ST_CERT_SER", "RQ_ST_CERT_NUM", "RQ_ST_CERT_DATE", "RQ_VAT_ID", "RQ_VAT_CERT_SER",
    "RQ_VAT_CERT_NUM", "RQ_VAT_CERT_DATE", "RQ_RESIDENCE_COUNTRY", "RQ_BASE_DOC", "RQ_REGON", "RQ_KRS", "RQ_PESEL",
    "RQ_LEGAL_FORM", "RQ_SIRET", "RQ_SIREN", "RQ_CAPITAL", "RQ_RCS", "RQ_CNPJ", "RQ_STATE_REG", "RQ_MNPL_REG",
    "RQ_CPF"])

PRODUCT: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "CATALOG_ID": ("integer", "Каталог", ""), "NAME": ("string", "Название", "q"),
    "ACTIVE": ("char", "Активен", ""), "CURRENCY_ID": ("crm_currency", "Валюта", ""),
    "PRICE": ("double", "Цена", ""), "MEASURE": ("integer", "Единица измерения", ""),
    "SECTION_ID": ("integer", "Раздел", ""), "SORT": ("integer", "Сортировка", ""),
    "VAT_ID": ("integer", "Ставка НДС", ""), "VAT_INCLUDED": ("char", "НДС включён в цену", ""),
    "XML_ID": ("string", "Внешний код", ""), "CODE": ("string", "Символьный код", ""),
    "DESCRIPTION": ("string", "Описание", ""), "DESCRIPTION_TYPE": ("string", "Тип описания", ""),
    "DATE_CREATE": ("datetime", "Дата создания", "r"), "TIMESTAMP_X": ("datetime", "Дата изменения", "r"),
    "CREATED_BY": ("user", "Кем создан", "r"), "MODIFIED_BY": ("user", "Кем изменён", "r"),
}

STATUS: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "ENTITY_ID": ("string", "ENTITY_ID", ""), "STATUS_ID": ("string", "STATUS_ID", ""),
    "NAME": ("string", "NAME", ""), "NAME_INIT": ("string", "NAME_INIT", ""), "SORT": ("integer", "SORT", ""),
    "SYSTEM": ("char", "SYSTEM", ""), "CATEGORY_ID": ("integer", "CATEGORY_ID", ""),
    "COLOR": ("string", "COLOR", ""), "SEMANTICS": ("string", "SEMANTICS", ""),
}

USERFIELD: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "ENTITY_ID": ("string", "", ""), "FIELD_NAME": ("string", "", ""),
    "USER_TYPE_ID": ("string", "", ""), "XML_ID": ("string", "", ""), "SORT": ("integer", "", ""),
    "MULTIPLE": ("char", "", ""), "MANDATORY": ("char", "", ""),
}

TIMELINE_COMMENT: dict[str, Spec] = {
    "ID": ("integer", "ID", "r"), "ENTITY_ID": ("integer", "", ""), "ENTITY_TYPE": ("string", "", ""),
    "CREATED": ("datetime", "", "r"), "COMMENT": ("string", "", ""), "AUTHOR_ID": ("user", "", ""),
}

USER_TYPES = {"string", "integer", "double", "boolean", "datetime", "date", "money", "url", "address",
              "enumeration", "file", "employee", "crm_status", "iblock_section", "iblock_element", "crm"}


def types_of(spec: dict[str, Spec]) -> dict[str, str]:
    return {name: definition[0] for name, definition in spec.items()}


DEAL_EXTRAS: dict[str, dict[str, Any]] = {
    "COMPANY_ID": {"settings": {"parentEntityTypeId": 4}},
    "CONTACT_ID": {"isDeprecated": True},
    "QUOTE_ID": {"settings": {"parentEntityTypeId": 7}},
    "LEAD_ID": {"settings": {"parentEntityTypeId": 1}},
}


def describe(spec: dict[str, Spec], status_types: dict[str, str] | None = None,
             extras: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The `crm.*.fields` answer for standard fields."""
    status_types = status_types or {}
    extras = extras or {}
    result: dict[str, Any] = {}
    for name, (field_type, title, flags) in spec.items():
        entry: dict[str, Any] = {
            "type": field_type,
            "isRequired": "q" in flags,
            "isReadOnly": "r" in flags,
            "isImmutable": "i" in flags,
            "isMultiple": "m" in flags,
            "isDynamic": False,
        }
        if name in status_types:
            entry["statusType"] = status_types[name]
        entry["title"] = title
        entry.update(extras.get(name, {}))
        result[name] = entry
    return result
