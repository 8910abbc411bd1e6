"""Everything a chunk of deals needs before the sync decides: read from both systems, once per object.

The gatherer enriches the deals of a chunk (rows, products, companies,
requisites, contacts: batched on the Bitrix24 side; nomenclature in or-chains
on the 1C side), projects each deal, and turns the projection into 1C's terms
so that the planner can compare it with what 1C holds. It only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from b24sync.bitrix24.adapter import ENTITY_COMPANY, ENTITY_CONTACT, Bitrix24Adapter
from b24sync.bitrix24.records import CatalogProduct, Company, Contact, ProductRow, Requisite
from b24sync.bitrix24.wire import parse_datetime, to_int
from b24sync.config import SyncConfig
from b24sync.errors import ItemError
from b24sync.onec import errors as onec_errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import Choices, DocumentContent
from b24sync.onec.lookups import pick_by_kpp
from b24sync.onec.profiles import ENUM_VAT_RATES, ZERO_GUID
from b24sync.sync import mapping
from b24sync.sync.requisites import normalise

EDIT_SETTLES_SECONDS = 60
KEPT_CUSTOMERS = 5_000  # Bitrix24 companies and contacts (and requisites) a cycle keeps; past that it lets them go


@dataclass
class Context:
    """What the deals of one cycle need from both systems, each object fetched once."""

    rows: dict[int, list[ProductRow]] = field(default_factory=dict)
    amounts: dict[int, dict[str, Any]] = field(default_factory=dict)  # the deal's amount as of its rows' read
    products: dict[int, CatalogProduct] = field(default_factory=dict)
    companies: dict[int, Company] = field(default_factory=dict)
    requisites: dict[int, list[Requisite]] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    contact_requisites: dict[int, list[Requisite]] = field(default_factory=dict)
    nomenclature_vat: dict[str, tuple[bool, Decimal | None]] = field(default_factory=dict)  # ref -> (known, rate)
    nomenclature: dict[str, str] = field(default_factory=dict)  # xml_id or "article:<a>" -> Ref_Key
    units: dict[str, mapping.Unit] = field(default_factory=dict)  # nomenclature Ref_Key -> its unit in 1C
    packaging_sets: dict[str, str] = field(default_factory=dict)  # nomenclature Ref_Key -> its НаборУпаковок_Key
    packagings: dict[str, tuple[mapping.Packaging, ...]] = field(default_factory=dict)  # looked up when needed
    # a partner's contact persons in 1C by name (casefolded), read once a cycle a partner
    contact_persons: dict[str, dict[str, str | None]] = field(default_factory=dict)
    sellers: dict[int, int] = field(default_factory=dict)  # deal -> the requisite of «моя компания» chosen on it
    seller_requisites: dict[int, Requisite | None] = field(default_factory=dict)  # those requisites by ID
    organisations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # 1C organisations by INN
    counterparties: dict[str, Any] = field(default_factory=dict)  # a customer's (ref, partner); a contract
    # 1C's counterparties by INN, phone and e-mail, read for a chunk's new customers at once (a value asked for
    # is present, maybe with an empty list; one created in the cycle is added)
    by_inn: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_phone: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_email: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def customers_kept(self) -> int:
        """How many Bitrix24 companies and contacts (with their requisites) it keeps: the bulk of its memory."""
        return len(self.companies) + len(self.contacts) + len(self.requisites) + len(self.contact_requisites)

    def forget_customers(self) -> None:
        """Lets the Bitrix24 customers go (a chunk reads its own again, in the batch it sends anyway); their 1C
        matches and the products stay, since those would cost requests of their own."""
        self.companies.clear()
        self.contacts.clear()
        self.requisites.clear()
        self.contact_requisites.clear()


@dataclass(frozen=True)
class Mapped:
    """A deal as 1C should hold it, or why it cannot be."""

    projection: mapping.Projection | None = None
    wanted: DocumentContent | None = None
    nomenclature: dict[int, str] = field(default_factory=dict)
    manager_ref: str | None = None
    choices: Choices | None = None  # the deal's pipeline's own organisation, warehouse, … (None: the defaults)
    error: ItemError | None = None
    transient: bool = False  # the error may be a manager's edit caught half-way: tried again, not reported
    notes: list[str] = field(default_factory=list)  # told on the deal when its document is created
    packed: dict[int, mapping.Packaging] = field(default_factory=dict)  # row position -> the packaging it is in
    # the organisation of the deal's «моя компания», for a new document (an existing one keeps its own), or why not
    seller: str | None = None
    seller_error: ItemError | None = None


class Gatherer:
    def __init__(self, sync: SyncConfig, bitrix: Bitrix24Adapter, onec: OneCAdapter) -> None:
        self.sync = sync
        self.bitrix = bitrix
        self.onec = onec
        self.context = Context()

    def enrich(self, deals: list[dict[str, Any]]) -> None:
        """Rows, products, companies, requisites and contacts of the deals, and their products in 1C."""
        if self.context.customers_kept() > KEPT_CUSTOMERS:  # a long cycle's memory stays flat
            self.context.forget_customers()
        context = self.context
        context.rows.clear()  # rows are needed by this chunk only: memory stays flat
        context.amounts.clear()
        context.sellers.clear()
        ids = [int(deal["ID"]) for deal in deals]
        company_ids = {to_int(deal.get("COMPANY_ID")) or 0 for deal in deals} - {0} - set(context.companies)
        contact_ids = {to_int(deal.get("CONTACT_ID")) or 0 for deal in deals} - {0} - set(context.contacts)
        customers = {to_int(deal.get("CONTACT_ID")) or 0 for deal in deals if not to_int(deal.get("COMPANY_ID"))}
        customers &= contact_ids  # a contact is the customer only in a deal without a company
        rows, amounts, found = self.bitrix.deals_read(  # one batch request for a chunk's rows and customers
            ids, company_ids, contact_ids, {ENTITY_COMPANY: company_ids, ENTITY_CONTACT: customers})
        context.rows.update(rows)
        context.amounts.update(amounts)
        context.companies.update(found.companies)
        context.contacts.update(found.contacts)
        context.requisites.update(found.requisites[ENTITY_COMPANY])
        context.contact_requisites.update(found.requisites[ENTITY_CONTACT])
        context.sellers.update(found.sellers)
        wanted_sellers = set(found.sellers.values()) - set(context.seller_requisites)
        if wanted_sellers:  # «моя компания» of the deals: a few requisites, read once a cycle
            read = self.bitrix.requisites_by_ids(wanted_sellers)
            context.seller_requisites.update({requisite_id: read.get(requisite_id) for requisite_id in wanted_sellers})
            inns = {normalise(requisite.inn) for requisite in read.values() if requisite.inn}
            if inns - set(context.organisations):
                context.organisations.update(self.onec.organisations_by_inn(inns - set(context.organisations)))
        product_ids = {row.product_id for deal_id in ids for row in context.rows.get(deal_id, []) if row.product_id}
        wanted = product_ids - set(context.products)
        context.products.update(self.bitrix.products(wanted, self.sync.article_property))
        products = [context.products[product_id] for product_id in wanted if product_id in context.products]
        xml_ids = [product.xml_id for product in products if product.xml_id]
        articles = [product.article for product in products if product.article]
        found: list[dict[str, Any]] = []
        if self.sync.product_match == "xml_id" or self.sync.product_fallback:
            for ref, row in self.onec.nomenclature_by_refs(xml_ids).items():
                context.nomenclature[ref] = ref
                found.append(row)
        if self.sync.product_match == "article" or self.sync.product_fallback:
            for article, row in self.onec.nomenclature_by_articles(articles).items():
                context.nomenclature[f"article:{article}"] = row["Ref_Key"]
                found.append(row)
        units = self.onec.units(str(row.get("ЕдиницаИзмерения_Key") or "") for row in found)
        for row in found:  # what a row needs of its 1C nomenclature: its VAT rate and its unit
            context.nomenclature_vat[row["Ref_Key"]] = self.onec.nomenclature_vat(row)
            unit = units.get(str(row.get("ЕдиницаИзмерения_Key") or "").lower())
            if unit is not None and not row.get("Услуга"):  # a service's unit is not counted
                context.units[row["Ref_Key"]] = mapping.Unit(*unit)
                context.packaging_sets[row["Ref_Key"]] = str(row.get("НаборУпаковок_Key") or "")

    def map(self, deal: dict[str, Any], now: float) -> Mapped:
        """Project the deal and put it in 1C's terms; a problem a manager can fix comes back as its error.

        The deal's amount is taken from the request that read its rows, so an edit between the listing and
        that read cannot make them disagree; amounts that still disagree on a deal modified within the last
        minute are taken for an edit in progress, and looked at again at the next cycle."""
        amounts = self.context.amounts.get(int(deal["ID"]))
        if amounts:
            deal = {**deal, **{key: value for key, value in amounts.items() if key not in ("ID", "DATE_MODIFY")}}
        try:
            projection = self._project(deal)
            nomenclature = self._nomenclature(projection)
            packed = self._packed(projection, nomenclature)
            projection, notes = mapping.vat_from_nomenclature(projection, nomenclature, self.context.nomenclature_vat)
            self._vat_rates(projection)
            currency_ref = self._currency(projection)
            manager_ref = self._manager(projection)
            fields = self.sync.order_fields
            projection = replace(projection, note=projection.note if fields.comments else "",
                                 ship_by=projection.ship_by if fields.shipment_date else None)
            if not self.onec.profile.order_details:
                projection = replace(projection, delivery_address="")  # БП: an invoice has no delivery address
            if not (self.onec.profile.contact_persons and fields.contact_person):
                projection = replace(projection, contact_person="")
            wanted = mapping.content(projection, nomenclature, currency_ref, manager_ref or ZERO_GUID,
                                     discounts=self.onec.profile.keeps_discounts,
                                     order_fields=self.onec.profile.order_details, packed=packed)
            category = to_int(deal.get("CATEGORY_ID")) or 0
            index = next((number for number, item in enumerate(self.sync.pipelines)
                          if item.category_id == category), None)
            choices = self.onec.choices(self.sync.pipeline(category), index)
            seller, seller_error = self._seller(int(deal["ID"]))
        except ItemError as error:
            modified = parse_datetime(deal.get("DATE_MODIFY"))
            recent = modified is not None and 0 <= now - modified.timestamp() < EDIT_SETTLES_SECONDS
            # an edit caught half-way, or 1C's packagings unreadable for now: tried again, not told
            return Mapped(error=error, transient=error.code == "amount_mismatch" and recent
                          or error.code == "packagings_unreadable")
        return Mapped(projection, wanted, nomenclature, manager_ref, choices, notes=notes, packed=packed,
                      seller=seller, seller_error=seller_error)

    def _project(self, deal: dict[str, Any]) -> mapping.Projection:
        context = self.context
        deal_id = int(deal["ID"])
        company_id = to_int(deal.get("COMPANY_ID")) or 0
        contact_id = to_int(deal.get("CONTACT_ID")) or 0
        company = context.companies.get(company_id) if company_id else None
        return mapping.project(deal, context.rows.get(deal_id, []), context.products, company,
                               context.requisites.get(company_id, []) if company else
                               context.contact_requisites.get(contact_id, []),
                               context.contacts.get(contact_id) if contact_id else None,
                               self.sync.fields.delivery_address if self.sync.order_fields.delivery_address else None)

    def _nomenclature(self, projection: mapping.Projection) -> dict[int, str]:
        """Each row's product as a 1C Ref_Key, by the configured match and its fallback."""
        found: dict[int, str] = {}
        order = [self.sync.product_match] + (
            [other for other in ("xml_id", "article") if other != self.sync.product_match]
            if self.sync.product_fallback else [])
        for position, row in enumerate(projection.rows, start=1):
            for way in order:
                key = row.xml_id if way == "xml_id" else (f"article:{row.article}" if row.article else None)
                if key and key in self.context.nomenclature:
                    found[row.product_id] = self.context.nomenclature[key]
                    break
            else:
                ways = " или ".join("XML_ID " + (row.xml_id or "—") if way == "xml_id" else
                                    "артикулу " + (row.article or "—") for way in order)
                raise mapping.MappingError(
                    f"Товар «{row.name}» (строка {position}) не найден в 1С по {ways}: добавьте его в 1С или "
                    f"исправьте товар в каталоге Битрикс24.", f"product {row.product_id}", code="unknown_product")
        return found

    def _packed(self, projection: mapping.Projection, nomenclature: dict[int, str]) -> dict[int, mapping.Packaging]:
        """The rows counted in a packaging of their nomenclature (УТ), by position; a row in another unit that no
        packaging has fails (check_units). Packagings are read only for such rows, once a cycle an item."""
        context = self.context
        if not self.onec.profile.packagings:
            return mapping.check_units(projection, nomenclature, context.units)
        wanted = mapping.unpacked_units(projection, nomenclature, context.units) - set(context.packagings)
        if wanted:
            found = self.onec.packagings({ref: context.packaging_sets.get(ref, "") for ref in wanted})
            if found is None:
                raise mapping.MappingError(
                    "Упаковки товара в 1С сейчас не прочитать: сделка будет передана при следующем обмене.",
                    f"packagings of {', '.join(sorted(wanted))} unreadable", code="packagings_unreadable")
            units = self.onec.units(unit for items in found.values() for _, _, unit, _ in items)
            for ref in wanted:
                context.packagings[ref] = tuple(
                    mapping.Packaging(packaging, name, mapping.Unit(*units[unit.lower()]), factor)
                    for packaging, name, unit, factor in found.get(ref.lower(), []) if unit.lower() in units)
        return mapping.check_units(projection, nomenclature, context.units, context.packagings)

    def _seller(self, deal_id: int) -> tuple[str | None, ItemError | None]:
        """The organisation of the deal's own «моя компания» (its requisites chosen on the deal), by its INN and
        KPP: it chooses a new document's organisation over the pipeline's and the default one. Or why there is
        none (a creation then fails alone; an existing document keeps its organisation and is not held up)."""
        requisite_id = self.context.sellers.get(deal_id)
        if not requisite_id:
            return None, None
        requisite = self.context.seller_requisites.get(requisite_id)
        if requisite is None:
            return None, mapping.MappingError(
                "Реквизиты выбранной в сделке «моей компании» не прочитать: проверьте права вебхука на реквизиты "
                "или выберите другую свою компанию.", f"deal {deal_id}: MC_REQUISITE_ID {requisite_id} unreadable",
                code="organisation_missing")
        inn = normalise(requisite.inn or "")
        if not inn:
            return None, mapping.MappingError(
                "У выбранной в сделке «моей компании» нет ИНН в реквизитах: заполните ИНН или выберите другую "
                "свою компанию.", f"deal {deal_id}: MC_REQUISITE_ID {requisite_id} has no RQ_INN",
                code="organisation_missing")
        kpp = normalise(requisite.kpp or "") or None
        found = pick_by_kpp(self.context.organisations.get(inn, []), kpp)
        if found is None:
            which = f"ИНН {inn}" + (f", КПП {kpp}" if kpp and self.context.organisations.get(inn) else "")
            return None, mapping.MappingError(
                f"«Моя компания» сделки ({which}) не найдена среди организаций 1С: добавьте организацию в 1С "
                f"или выберите в сделке другую свою компанию.", f"deal {deal_id}: no Catalog_Организации with "
                f"{which}", code="organisation_missing")
        return found["Ref_Key"], None

    def _vat_rates(self, projection: mapping.Projection) -> None:
        """Every row's VAT rate must be one 1C knows: a rate it lacks would go in empty, with a VAT sum beside it."""
        resolved = self.onec.resolved()
        known = set((resolved.vat_refs or {}).keys()) - {"none"} if resolved.vat_form == "catalog" else \
            {str(rate) for rate in ENUM_VAT_RATES}
        for position, row in enumerate(projection.rows, start=1):
            rate = row.vat_rate
            if rate is None:
                continue
            if rate != rate.to_integral_value() or str(int(rate)) not in known:
                shown = f"{rate.normalize():f}"
                raise mapping.MappingError(
                    f"Строка {position} «{row.name}»: ставки НДС {shown} % нет в 1С (справочник «Ставки НДС»): "
                    f"выберите в сделке ставку, которая есть в 1С, или попросите бухгалтерию добавить её.",
                    f"vat rate {shown}", code="vat_rate_missing")

    def _currency(self, projection: mapping.Projection) -> str:
        try:
            return self.onec.currency(projection.currency or None)
        except onec_errors.SetupError:
            raise mapping.MappingError(f"Валюты «{projection.currency}» нет в 1С: смените валюту сделки или "
                                       f"добавьте валюту в 1С.", f"currency {projection.currency}",
                                       code="currency_missing") from None

    def _manager(self, projection: mapping.Projection) -> str | None:
        try:
            return self.onec.manager(projection.manager_id)
        except onec_errors.SetupError as error:
            raise mapping.MappingError("Ответственный сделки не сопоставлен пользователю 1С: исправьте "
                                       "'onec.managers' или пользователя в 1С.", str(error),
                                       code="manager_unmapped") from None
