"""Lookups in 1C for the sync: config defaults resolved once, managers, currencies, nomenclature,
counterparties and contracts (a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from b24sync.config import Marker
from b24sync.onec import errors
from b24sync.onec.base import AdapterBase
from b24sync.onec.documents import Choices
from b24sync.onec.odata import EVERY_ROW, ZERO_GUID, entity_path, guid, literal
from b24sync.onec.profiles import Resolved
from b24sync.onec.values import PROPERTIES, _decimal, is_guid

# БП's ВидСтавкиНДС of a nomenclature item and the rate it stands for (the general one is 22 % from 2026)
KIND_RATES = {"Общая": Decimal(22), "Пониженная": Decimal(10), "Нулевая": Decimal(0)}
NAME_PREFIX = 50  # characters of a free-text name put into a $filter; the rest is compared on our side


def pick_by_kpp(rows: list[dict[str, Any]], kpp: str | None) -> dict[str, Any] | None:
    """Among the counterparties of one INN (in the order of their codes), the one for this KPP: the KPP decides
    between branches, and a counterparty 1C keeps without a KPP is the same company."""
    if kpp:
        exact = [row for row in rows if (row.get("КПП") or "") == kpp]
        rows = exact or [row for row in rows if not row.get("КПП")]
    return rows[0] if rows else None


def _by_inn(wanted: list[str], rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Catalog items by their ИНН: every INN asked for gets its list (maybe empty), each in the order of codes."""
    found: dict[str, list[dict[str, Any]]] = {inn: [] for inn in wanted}
    for row in rows:
        found.setdefault(str(row.get("ИНН") or ""), []).append(row)
    return {inn: sorted(items, key=lambda row: str(row.get("Code") or "")) for inn, items in found.items()}


RESOLVE_EVERY_SECONDS = 3600  # how long resolved defaults are trusted before they are looked up again


class Lookups(AdapterBase):
    """Config values and catalog items as 1C references."""

    # -- resolving config values ----------------------------------------------------------------------

    def resolve(self, entity: str, value: str, key: str, fields: tuple[str, ...] = ("Code", "Description")) -> str:
        """A catalog item by GUID, code or name; a SetupError naming the config key when none matches."""
        value = value.strip()
        if is_guid(value):
            try:
                self.client.get(entity_path(entity, value.lower()), {"$select": "Ref_Key"})
                return value.lower()
            except errors.NotFoundError:
                pass
        else:
            for field in fields:
                rows = self.client.get(entity, {"$filter": f"{field} eq {literal(value)} and DeletionMark eq false",
                                                "$select": "Ref_Key", "$top": 2}).get("value", [])
                if rows:
                    return rows[0]["Ref_Key"]
        raise errors.SetupError(
            f"at '{key}': «{value}» is not the GUID, code or name of any {entity} in 1C; correct the config or "
            f"create it in 1C", resource=entity)

    def resolved(self, refresh: bool = False) -> Resolved:
        """Defaults, currencies, the marker property and the VAT form as references, kept for RESOLVE_EVERY_SECONDS:
        a default the accountant replaced or marked for deletion in 1C is looked up again within the hour, and a
        service that runs for months never writes a reference 1C no longer has (OData stores one silently). The
        managers and pipeline choices resolved meanwhile are looked up again with them."""
        now = self.clock.time()
        resolved = self._resolved  # a worker may drop it meanwhile (refused): what is returned is read once
        if resolved is not None and not refresh and now - self._resolved_at < RESOLVE_EVERY_SECONDS:
            return resolved
        self._managers.clear()
        self._choices.clear()
        defaults = self.config.defaults
        organisation = self.resolve("Catalog_Организации", defaults.organisation, "onec.defaults.organisation")
        warehouse = agreement = None
        if self.profile.uses_warehouse_and_agreement:
            warehouse = self.resolve("Catalog_Склады", defaults.warehouse or "", "onec.defaults.warehouse")
            agreement = self.resolve("Catalog_СоглашенияСКлиентами", defaults.agreement or "",
                                     "onec.defaults.agreement")
        currency: dict[str, str] = {}
        for row in self.client.get("Catalog_Валюты", {"$select": "Ref_Key,Code,Description"}).get("value", []):
            currency[row["Code"].strip().upper()] = row["Ref_Key"]
            currency[row["Description"].strip().upper()] = row["Ref_Key"]
        if defaults.currency.upper() not in currency:
            raise errors.SetupError(f"at 'onec.defaults.currency': no currency with the code «{defaults.currency}» "
                                    f"in 1C's Catalog_Валюты", resource="Catalog_Валюты")
        marker_property = tracking_property = None
        if not self.config.deal_marker.attribute:
            marker_property = self._property(self.config.deal_marker, "onec.deal_marker.additional_requisite")
        if not self.config.tracking.attribute and self.config.tracking.additional_requisite:
            tracking_property = self._property(self.config.tracking, "onec.tracking.additional_requisite")
        vat_form = self.metadata().vat_form(self.profile.order_entity) if self.profile.vat_from_metadata else "enum"
        vat_refs: dict[str, str] = {}
        if vat_form == "catalog":
            for row in self.client.get("Catalog_СтавкиНДС", {"$select": "Ref_Key,Description,Ставка"}).get("value", []):
                text = row["Description"].lower()
                key = "none" if "без" in text else str(int(_decimal(row.get("Ставка"))))
                vat_refs.setdefault(key, row["Ref_Key"])
        resolved = self._resolved = Resolved(organisation=organisation, currency=currency, warehouse=warehouse,
                                             agreement=agreement, marker_property=marker_property,
                                             tracking_property=tracking_property, vat_form=vat_form,
                                             vat_refs=vat_refs)
        self._resolved_at = now
        return resolved

    def _property(self, marker: Marker, key: str) -> str:
        name = marker.additional_requisite or ""
        for field in ("Description", "Заголовок", "Имя"):
            rows = self.client.get(PROPERTIES, {"$filter": f"{field} eq {literal(name)} and DeletionMark eq false",
                                                "$select": "Ref_Key", "$top": 1}).get("value", [])
            if rows:
                return rows[0]["Ref_Key"]
        raise errors.SetupError(
            f"at '{key}': 1C has no additional requisite «{name}»; create it in 1C (НСИ и администрирование → "
            f"Дополнительные реквизиты) with the type Строка for the documents b24sync writes", resource=PROPERTIES)

    def manager(self, bitrix24_user_id: int | None) -> str | None:
        """The 1C user responsible for a deal's manager, by the 'onec.managers' map or the default; resolved once
        per Bitrix24 user, and again with the defaults (a failed resolution is not kept: it is asked again)."""
        user = bitrix24_user_id or 0
        if user not in self._managers:
            name = self.config.managers.get(user) or self.config.default_manager
            key = "onec.managers" if bitrix24_user_id in self.config.managers else "onec.default_manager"
            self._managers[user] = self.resolve("Catalog_Пользователи", name, key, fields=("Description",)) \
                if name else None
        return self._managers[user]

    def currency(self, code: str | None) -> str:
        """A currency reference by letter (RUB) or numeric (643) code."""
        resolved = self.resolved()
        wanted = (code or self.config.defaults.currency).upper()
        if wanted not in resolved.currency:
            raise errors.SetupError(f"1C has no currency «{wanted}» in Catalog_Валюты; add it in 1C",
                                    resource="Catalog_Валюты")
        return resolved.currency[wanted]

    def currency_code(self, ref: str | None) -> str:
        """The letter code (USD) of a Catalog_Валюты reference; the default currency's for an empty one."""
        codes = [code for code, known in self.resolved().currency.items() if known == ref and code.isalpha()]
        return codes[0] if codes else self.config.defaults.currency.upper()

    # -- nomenclature and counterparties ----------------------------------------------------------------

    def _vat_property(self) -> str:
        """The nomenclature's own VAT: УТ 11.5 a Ставки НДС item, older УТ the enum, БП its ВидСтавкиНДС."""
        if not self.profile.vat_from_metadata:
            return "ВидСтавкиНДС"
        return "СтавкаНДС_Key" if self.resolved().vat_form == "catalog" else "СтавкаНДС"

    def nomenclature_vat(self, row: dict[str, Any]) -> tuple[bool, Decimal | None]:
        """(known, rate) of a nomenclature row's own VAT; rate None is «без НДС». Unknown when 1C says nothing."""
        value = row.get(self._vat_property()) or ""
        if not value or value == ZERO_GUID:
            return False, None
        if self._vat_property() == "СтавкаНДС_Key":
            key = next((key for key, ref in (self.resolved().vat_refs or {}).items() if ref == value), None)
            return (key is not None), (None if key in (None, "none") else Decimal(key))
        if value in KIND_RATES:
            return True, KIND_RATES[value]
        if value == "БезНДС":
            return True, None
        digits = "".join(char for char in value if char.isdigit())
        return (bool(digits), Decimal(digits) if digits else None)

    def nomenclature_by_refs(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._by_or_chain("Catalog_Номенклатура", "Ref_Key", [ref.lower() for ref in refs if is_guid(ref)],
                                 self._nomenclature_select(), render=guid)
        return {row["Ref_Key"]: row for row in rows}

    def nomenclature_by_articles(self, articles: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._by_or_chain("Catalog_Номенклатура", "Артикул", [a for a in articles if a],
                                 self._nomenclature_select(), extra=" and DeletionMark eq false")
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            found.setdefault(row["Артикул"], row)
        return found

    def _nomenclature_select(self) -> str:
        published = self.metadata().fields("Catalog_Номенклатура")
        extra = "".join(f",{name}" for name in ("ЕдиницаИзмерения_Key", "Услуга", "НаборУпаковок_Key")
                        if name in published)
        return f"Ref_Key,Description,Артикул,DeletionMark,{self._vat_property()}{extra}"

    def units(self, refs: Iterable[str]) -> dict[str, tuple[int | None, str]]:
        """These units of measure (ref -> OKEI code, name), in `or` chains: УТ keeps them with the packagings, БП
        in its classifier. The code is the item's OKEI code (`КодОКЕИ`, or `Code` when it is three digits, as
        OKEI codes are); a unit not found is left out, and an error reading them is said once and leaves the rows
        unjudged (the check protects, it never stops a cycle)."""
        entity = self.profile.unit_catalog
        fields = self.metadata().fields(entity)
        wanted = sorted({ref.lower() for ref in refs if is_guid(ref) and ref != ZERO_GUID})
        if not fields or not wanted:
            return {}
        code_field = "КодОКЕИ" if "КодОКЕИ" in fields else "Code"
        try:
            rows = self._by_or_chain(entity, "Ref_Key", wanted, f"Ref_Key,Description,{code_field}", render=guid)
        except errors.OneCError as error:
            if error.fatal:
                raise
            self.log.warning("units_unreadable", entity=entity, error=str(error),
                             action="rows are not compared with their nomenclature's unit until 1C answers")
            return {}
        found: dict[str, tuple[int | None, str]] = {}
        for row in rows:
            code = str(row.get(code_field) or "").strip()
            found[row["Ref_Key"].lower()] = (int(code) if code.isdigit() and len(code) == 3 else None,
                                             str(row.get("Description") or ""))
        return found

    def packagings(self, items: dict[str, str]) -> dict[str, list[tuple[str, str, str, Decimal]]] | None:
        """The packagings of these nomenclature items (ref -> the item's set of packagings, or ""), as
        (ref, name, unit ref, units of the item in one): УТ keeps a packaging under the item itself or under its
        set (Owner), with Числитель / Знаменатель of the item's units in one. One marked for deletion, or without
        a count, is left out; an error reading them is said once and gives None (the deal waits for the next
        cycle rather than go in wrong)."""
        entity = self.profile.unit_catalog
        fields = self.metadata().fields(entity)
        if not self.profile.packagings or not {"Owner", "Числитель"} <= set(fields) or not items:
            return {}
        owners: dict[str, list[str]] = {}
        for item, kit in items.items():
            for owner in (item, kit):
                if is_guid(owner) and owner != ZERO_GUID:
                    owners.setdefault(owner.lower(), []).append(item.lower())
        kits = {kit.lower() for kit in items.values() if is_guid(kit) and kit != ZERO_GUID}
        select = "Ref_Key,Description,DeletionMark,Owner,ЕдиницаИзмерения_Key,Числитель,Знаменатель"
        rows: list[dict[str, Any]] = []
        try:
            for owner_entity, refs in (("Catalog_Номенклатура", [ref for ref in owners if ref not in kits]),
                                       ("Catalog_НаборыУпаковок", sorted(kits))):
                rows += self._by_or_chain(entity, "Owner", refs, select,
                                          render=lambda ref, of=owner_entity: f"cast(guid'{ref}', '{of}')")
        except errors.OneCError as error:
            if error.fatal:
                raise
            self.log.warning("packagings_unreadable", entity=entity, error=str(error),
                             action="deals with rows in another unit than their nomenclature's wait until 1C answers")
            return None
        found: dict[str, list[tuple[str, str, str, Decimal]]] = {}
        for row in rows:
            numerator, denominator = _decimal(row.get("Числитель")), _decimal(row.get("Знаменатель"))
            if row.get("DeletionMark") or numerator <= 0 or denominator <= 0:
                continue
            for item in owners.get(str(row.get("Owner") or "").lower(), []):
                found.setdefault(item, []).append((row["Ref_Key"].lower(), str(row.get("Description") or ""),
                                                   str(row.get("ЕдиницаИзмерения_Key") or ""),
                                                   numerator / denominator))
        return found

    def prices(self, price_type: str) -> tuple[bool, dict[str, tuple[Decimal, str]]]:
        """The latest prices of this price type (by code, name or GUID, 'sync.products.price_type'): whether they
        include VAT, and each item's (price, currency letter code). Read as the register's SliceLast (the
        register is subordinate to «Установка цен номенклатуры», hence `_RecordType`); a price of a
        characteristic or a packaging is not the item's own and is left out."""
        entity = self.profile.price_types
        ref = self.resolve(entity, price_type, "sync.products.price_type")
        kind = self.client.get(entity_path(entity, ref), {"$select": "Ref_Key,ВалютаЦены_Key,ЦенаВключаетНДС"})
        own_currency = self.currency_code(kind.get("ВалютаЦены_Key"))
        register = "InformationRegister_ЦеныНоменклатуры"
        published = self.metadata().fields(register)
        select = ",".join(name for name in ("Номенклатура_Key", "Цена", "Валюта_Key", "Характеристика_Key",
                                            "Упаковка_Key") if not published or name in published)
        rows = self.client.get_all(f"{register}_RecordType/SliceLast", {
            "$filter": f"{self.profile.price_dimension} eq {guid(ref)}", "$select": select,
            "$orderby": "Номенклатура_Key"})
        found: dict[str, tuple[Decimal, str]] = {}
        for row in rows:
            if any(str(row.get(name) or ZERO_GUID) != ZERO_GUID for name in ("Характеристика_Key", "Упаковка_Key")):
                continue
            currency = row.get("Валюта_Key") or ZERO_GUID
            found[str(row.get("Номенклатура_Key") or "").lower()] = (
                _decimal(row.get("Цена")), self.currency_code(currency) if currency != ZERO_GUID else own_currency)
        return bool(kind.get("ЦенаВключаетНДС", True)), found

    def nomenclature_page(self, skip: int, top: int = 500, vat_and_unit: bool = False) -> list[dict[str, Any]]:
        """One page of the catalog (items, not folders) with what Bitrix24's catalog shows (`vat_and_unit`: the
        item's VAT rate and unit too, which needs the resolved defaults in УТ 11.5)."""
        select = self._nomenclature_select() if vat_and_unit else "Ref_Key,DeletionMark,Description,Артикул"
        return self.client.get("Catalog_Номенклатура", {
            "$filter": "IsFolder eq false", "$select": f"DataVersion,{select}",
            "$orderby": "Ref_Key", "$top": top, "$skip": skip}).get("value", [])

    def counterparty_by_inn(self, inn: str, kpp: str | None = None) -> dict[str, Any] | None:
        """The counterparty with this INN (and KPP), with its partner in УТ; None if none matches."""
        rows = self._unhidden(lambda: self.client.get("Catalog_Контрагенты", {
            "$filter": f"ИНН eq {literal(inn)} and DeletionMark eq false", "$select": self._counterparty_select() +
            ",Code", "$orderby": "Code", **EVERY_ROW}).get("value", []), f"counterparties with INN {inn}")
        return pick_by_kpp(rows, kpp)

    def counterparties_by_inns(self, inns: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The live counterparties of many INNs, in `or` chains: every INN asked for gets its list (maybe empty),
        each list in the order of their codes."""
        wanted = sorted(set(inns))
        return _by_inn(wanted, self._unhidden(lambda: self._by_or_chain(
            "Catalog_Контрагенты", "ИНН", wanted, self._counterparty_select() + ",Code",
            extra=" and DeletionMark eq false", every_row=True), f"counterparties with INN {', '.join(wanted)}"))

    def counterparties_by_contacts(self, phones: Iterable[str], emails: Iterable[str]
                                   ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
        """The live counterparties whose contact information has each of many phones (digits with the country
        code) and e-mails, in `or` chains of any() terms: (by phone, by e-mail), every value asked for present."""
        select = self._counterparty_select() + ",Code,КонтактнаяИнформация"
        by_phone: dict[str, list[dict[str, Any]]] = {phone: [] for phone in phones}
        by_email: dict[str, list[dict[str, Any]]] = {email: [] for email in emails}
        for field, wanted in (("НомерТелефона", by_phone), ("АдресЭП", by_email)):
            if not wanted:
                continue
            rows = self._unhidden(lambda field=field, wanted=wanted: self._by_or_chain(
                "Catalog_Контрагенты", field, sorted(wanted), select, extra=" and DeletionMark eq false",
                term=lambda name, shown: f"КонтактнаяИнформация/any(c: c/{name} eq {shown})", every_row=True),
                "counterparties with these phones or e-mails")
            for row in sorted(rows, key=lambda row: str(row.get("Code", ""))):
                values = {str(item.get(field) or "").lower() if field == "АдресЭП" else str(item.get(field) or "")
                          for item in row.get("КонтактнаяИнформация", [])}
                for value in values & set(wanted):
                    if all(known["Ref_Key"] != row["Ref_Key"] for known in wanted[value]):
                        wanted[value].append(row)
        return by_phone, by_email

    def _counterparty_select(self) -> str:
        return "Ref_Key,Description,ИНН,КПП" + (",Партнер_Key" if self.profile.uses_partners else "")

    def counterparty(self, ref: str) -> dict[str, Any] | None:
        """The counterparty with this GUID, unless it is gone or marked for deletion."""
        if not is_guid(ref):
            return None
        try:
            row = self.client.get(entity_path("Catalog_Контрагенты", ref.lower()),
                                  {"$select": self._counterparty_select() + ",DeletionMark"})
        except errors.NotFoundError:
            return None
        return None if row.get("DeletionMark") else row

    def document_counterparty(self, ref: str) -> str | None:
        """The Контрагент_Key of a bound document (None when it is gone or has none)."""
        try:
            row = self.client.get(entity_path(self.profile.order_entity, ref), {"$select": "Контрагент_Key"})
        except errors.NotFoundError:
            return None
        value = row.get("Контрагент_Key")
        return value if value and value != ZERO_GUID else None

    def counterparties_by_contact(self, phones: Iterable[str], emails: Iterable[str]) -> list[dict[str, Any]]:
        """Counterparties whose contact information has one of these phones (digits with the country code, as
        1C keeps НомерТелефона) or e-mails; at most ten."""
        terms = [f"c/НомерТелефона eq {literal(phone)}" for phone in dict.fromkeys(phones)]
        terms += [f"c/АдресЭП eq {literal(email)}" for email in dict.fromkeys(emails)]
        if not terms:
            return []
        condition = f"КонтактнаяИнформация/any(c: {' or '.join(terms[:10])})"
        return self._unhidden(lambda: self.client.get("Catalog_Контрагенты", {
            "$filter": f"{condition} and DeletionMark eq false", "$select": self._counterparty_select(),
            "$orderby": "Code", "$top": 10, **EVERY_ROW}).get("value", []),
            "counterparties with these phones or e-mails")

    def counterparties_by_name(self, name: str) -> list[dict[str, Any]]:
        """Every counterparty with this name as 1C stores it (Description holds 150 characters)."""
        value = name[:150]
        condition = f"Description eq {literal(value)}" if len(value) <= NAME_PREFIX else \
            f"startswith(Description,{literal(value[:NAME_PREFIX])})"
        rows = self._unhidden(lambda: self.client.get_all("Catalog_Контрагенты", {
            "$filter": f"{condition} and DeletionMark eq false", "$select": self._counterparty_select(),
            "$orderby": "Code", **EVERY_ROW}), f"counterparties named «{value}»")
        return [row for row in rows if row.get("Description") == value]

    def _contact_kinds(self) -> dict[str, str]:
        """The predefined kinds of contact information (ТелефонКонтрагента, EmailКонтрагента) by name; empty when
        the base does not publish the catalog, and the rows then go without a kind."""
        if self._kinds is None:
            try:
                rows = self.client.get("Catalog_ВидыКонтактнойИнформации", {
                    "$filter": "Predefined eq true", "$select": "Ref_Key,PredefinedDataName"}).get("value", [])
            except (errors.NotFoundError, errors.QueryError):
                rows = []
            self._kinds = {row["PredefinedDataName"]: row["Ref_Key"] for row in rows}
        return self._kinds

    def _contact_rows(self, phones: Iterable[tuple[str, str]], emails: Iterable[str],
                      address: str = "") -> list[dict[str, Any]]:
        kinds = self._contact_kinds()
        rows: list[dict[str, Any]] = []
        for shown, digits in phones:
            rows.append({"LineNumber": len(rows) + 1, "Тип": "Телефон", "Представление": shown[:500],
                         "НомерТелефона": digits, "НомерТелефонаБезКодов": digits[-7:],
                         **({"Вид_Key": kinds["ТелефонКонтрагента"]} if "ТелефонКонтрагента" in kinds else {})})
        for email in emails:
            rows.append({"LineNumber": len(rows) + 1, "Тип": "АдресЭлектроннойПочты", "Представление": email,
                         "АдресЭП": email, "ДоменноеИмяСервера": email.rpartition("@")[2],
                         **({"Вид_Key": kinds["EmailКонтрагента"]} if "EmailКонтрагента" in kinds else {})})
        if address:  # the legal address as text: 1C keeps it as typed until someone checks it against ФИАС
            rows.append({"LineNumber": len(rows) + 1, "Тип": "Адрес", "Представление": address[:500],
                         **({"Вид_Key": kinds["ЮрАдресКонтрагента"]} if "ЮрАдресКонтрагента" in kinds else {})})
        return rows

    def create_counterparty(self, name: str, full_name: str, *, inn: str | None = None, kpp: str | None = None,
                            individual: bool = False, phones: Iterable[tuple[str, str]] = (),
                            emails: Iterable[str] = (), address: str = "") -> dict[str, Any]:
        """A new counterparty with its phones and e-mails (and in УТ its partner, in БП its contract); refused
        unless the config allows it. `phones` are (as typed, digits with the country code)."""
        if not self.config.create_counterparties:
            raise errors.SetupError(
                f"1C has no counterparty {'with INN ' + inn if inn else '«' + name + '»'} and "
                f"'onec.create_counterparties' is false: create it in 1C, or allow b24sync to",
                resource="Catalog_Контрагенты")
        body: dict[str, Any] = {"Description": name[:150], "НаименованиеПолное": full_name, "ИНН": inn or "",
                                "КПП": kpp or "", "Комментарий": "Создан b24sync из Битрикс24"}
        contact_rows = self._contact_rows(phones, emails, address)
        if contact_rows:
            body["КонтактнаяИнформация"] = contact_rows
        if self.profile.uses_partners:
            partner = self._create_once("Catalog_Партнеры", {
                "Description": name[:150], "НаименованиеПолное": full_name, "Клиент": True,
                "ЮрФизЛицо": "ЧастноеЛицо" if individual else "Компания"}, "Description", name[:150])
            body["Партнер_Key"] = partner["Ref_Key"]
            sole_trader = not individual and len(inn or "") == 12
            body["ЮрФизЛицо"] = "ФизЛицо" if individual else "ИндивидуальныйПредприниматель" if sole_trader \
                else "ЮрЛицо"
        else:  # БП keeps a sole trader as a natural person with an INN of 12 digits
            body["ЮридическоеФизическоеЛицо"] = "ФизическоеЛицо" if individual or len(inn or "") == 12 \
                else "ЮридическоеЛицо"
        return self.client.post("Catalog_Контрагенты", body)  # its contract comes with the deal's pipeline

    def contact_person(self, partner_ref: str, name: str, known: dict[str, str | None]) -> str | None:
        """The partner's contact person of this name (УТ «Контактные лица партнеров»), created when it has none
        (a crash after the creation finds it by name next time, so there is never a second). `known`: the
        partner's contact persons by casefolded name, filled by the first call for the partner (one read a
        partner, not one a deal). None where the base does not publish the catalog."""
        entity = "Catalog_КонтактныеЛицаПартнеров"
        if not self.profile.contact_persons or "Owner_Key" not in self.metadata().fields(entity) or \
                not is_guid(partner_ref) or partner_ref == ZERO_GUID or not name:
            return None
        wanted = " ".join(name.split()).casefold()
        if not known:
            for person in self.client.get_all(entity, {
                    "$filter": f"Owner_Key eq {guid(partner_ref)} and DeletionMark eq false",
                    "$select": "Ref_Key,Description"}):
                known.setdefault(" ".join(str(person.get("Description") or "").split()).casefold(), person["Ref_Key"])
            known.setdefault("", None)  # read: a partner without contact persons is not read again
        if wanted in known:
            return known[wanted]
        return self.client.post(entity, {"Owner_Key": partner_ref, "Description": name[:150],
                                         "Комментарий": "Создано b24sync из Битрикс24"})["Ref_Key"]

    def _find_one(self, entity: str, field: str, value: str, select: str | None = None,
                  live: bool = True) -> dict[str, Any] | None:
        """The first catalog item (by code) whose `field` is `value` (a partner or counterparty left behind by an
        interrupted run is reused, not doubled). A long free-text value is looked up by its first characters and
        compared here, so no request grows with a name's length (emoji take 12 characters each in a URL)."""
        short = len(value) <= NAME_PREFIX
        condition = f"{field} eq {literal(value)}" if short else \
            f"startswith({field},{literal(value[:NAME_PREFIX])})"
        options: dict[str, Any] = {"$filter": condition + (" and DeletionMark eq false" if live else ""),
                                   "$orderby": "Code", **EVERY_ROW}  # an absence here makes a new one
        if select:
            options["$select"] = select if field in select.split(",") else f"{select},{field}"
        if short:
            options["$top"] = 1
            rows = self._unhidden(lambda: self.client.get(entity, options).get("value", []), f"{entity} «{value}»")
        else:
            rows = [row for row in self._unhidden(lambda: self.client.get_all(entity, options), f"{entity} «{value}»")
                    if row.get(field) == value]
        return rows[0] if rows else None

    def _create_once(self, entity: str, body: dict[str, Any], key_field: str, key_value: str) -> dict[str, Any]:
        """POST, and if the answer is lost, look for what may have been created before giving up."""
        try:
            return self.client.post(entity, body)
        except errors.OutcomeUnknownError:
            found = self._find_one(entity, key_field, key_value, live=False)
            if found is not None:
                return found
            raise

    def choices(self, pipeline: Any, index: int | None = None) -> Choices | None:
        """A pipeline's own organisation, warehouse, agreement, price type and contract name as references,
        resolved once (a SetupError names the key, `sync.pipelines[index].onec.organisation`); None: the defaults."""
        given = getattr(pipeline, "onec", None)
        if given is None:
            return None
        if pipeline.category_id not in self._choices:
            at = f"sync.pipelines[{index}].onec" if index is not None else \
                f"sync.pipelines (category_id {pipeline.category_id}).onec"
            found = {key: self.resolve(entity, getattr(given, key), f"{at}.{key}") if getattr(given, key) else None
                     for key, entity in (("organisation", "Catalog_Организации"), ("warehouse", "Catalog_Склады"),
                                         ("agreement", "Catalog_СоглашенияСКлиентами"),
                                         ("price_type", "Catalog_ВидыЦен"))}
            self._choices[pipeline.category_id] = Choices(**found, contract_name=given.contract)
        return self._choices[pipeline.category_id]

    def organisations_by_inn(self, inns: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """b24sync's own organisations in 1C by INN (each INN's, in the order of their codes), in `or` chains:
        the deal's «моя компания» chooses the document's organisation by its INN (and KPP)."""
        wanted = sorted({inn for inn in inns if inn})
        rows = self._by_or_chain("Catalog_Организации", "ИНН", wanted, "Ref_Key,Description,ИНН,КПП,Code",
                                 extra=" and DeletionMark eq false")
        return _by_inn(wanted, rows)

    def contract(self, counterparty_ref: str, create: bool = True, choices: Choices | None = None,
                 currency: str | None = None) -> str | None:
        """БП: the counterparty's contract with the document's organisation and in its currency, named as the
        pipeline or 'onec.defaults.contract' says; else the organisation's other contract in that currency, else a
        new one (a contract of another of your organisations, or in another currency, is never put on it)."""
        name = (choices.contract_name if choices else None) or self.config.defaults.contract or "Основной договор"
        organisation = (choices.organisation if choices else None) or self.resolved().organisation
        default_currency = self.resolved().currency_ref(self.config.defaults.currency)
        wanted_currency = self.resolved().currency_ref(currency) if currency else default_currency
        rows = self._unhidden(lambda: self.client.get("Catalog_ДоговорыКонтрагентов", {
            "$filter": f"Owner_Key eq {guid(counterparty_ref)} and DeletionMark eq false",
            "$select": "Ref_Key,Description,Организация_Key,ВалютаВзаиморасчетов_Key", "$orderby": "Code",
            **EVERY_ROW}).get("value", []), "contracts of the counterparty")

        def fits(row: dict[str, Any]) -> bool:
            held = row.get("ВалютаВзаиморасчетов_Key") or ZERO_GUID
            return row.get("Организация_Key") in (organisation, None, ZERO_GUID) and (
                held == wanted_currency or (held == ZERO_GUID and wanted_currency == default_currency))

        ours = [row for row in rows if fits(row)]
        for row in ours:
            if row["Description"] == name:
                return row["Ref_Key"]
        if ours and not (choices and choices.contract_name):  # a contract the pipeline names is that one only
            return ours[0]["Ref_Key"]
        if not create:
            return None
        foreign = wanted_currency != default_currency
        created = self.client.post("Catalog_ДоговорыКонтрагентов", {
            "Description": f"{name} ({currency})" if foreign and not (choices and choices.contract_name) else name,
            "Owner_Key": counterparty_ref, "Организация_Key": organisation, "ВидДоговора": "СПокупателем",
            **({"ВалютаВзаиморасчетов_Key": wanted_currency} if foreign else {})})
        return created["Ref_Key"]
