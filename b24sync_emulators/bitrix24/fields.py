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


def describe(spec: dict[str, Spec], status_types: dict[str, str] | None = None) -> dict[str, Any]:
    """The `crm.*.fields` answer for standard fields."""
    status_types = status_types or {}
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
        result[name] = entry
    return result
