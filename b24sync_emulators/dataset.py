"""One deterministic business dataset that both emulators load.

For a given seed the Bitrix24 portal and the 1C base see the same products
(the portal's XML_ID is the nomenclature's Ref_Key, the articles are equal),
the same companies (the same INN/KPP) and the same managers. A few deliberate
gaps exist for the error paths: one product only in Bitrix24, one company
without a 1C counterparty.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def offset_zone(text: str) -> timezone:
    """"+03:00" -> a fixed-offset zone: the portal's and the 1C server's local time."""
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def money(value: Decimal | float | str) -> Decimal:
    """Round to kopecks the way an accountant does (half up)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Stage:
    code: str  # STATUS_ID: "NEW" in pipeline 0, "C1:NEW" in pipeline 1
    name: str
    semantics: str  # process | success | failure


@dataclass(frozen=True)
class Pipeline:
    id: int
    name: str
    stages: tuple[Stage, ...]

    @property
    def first_stage(self) -> Stage:
        return self.stages[0]


@dataclass(frozen=True)
class Packing:
    """A packaging 1C keeps for a product (УТ): its name, its own unit, and how many of the product's units it holds;
    `kit`: kept under a set of packagings of that name rather than under the product itself."""

    name: str
    unit_name: str
    unit_code: int
    count: int
    kit: str = ""


@dataclass(frozen=True)
class Product:
    ref_key: str  # 1C Ref_Key == Bitrix24 XML_ID
    article: str
    name: str
    price: Decimal  # list price including VAT
    vat_rate: int | None  # 22, 10, 0, or None for "Без НДС"
    measure_code: int = 796
    measure_name: str = "шт"
    in_bitrix24: bool = True
    in_onec: bool = True
    packing: Packing | None = None  # a packaging 1C keeps for it (УТ), a manager may sell it in


@dataclass(frozen=True)
class Company:
    key: int
    title: str
    full_name: str
    inn: str
    kpp: str
    ogrn: str
    director: str
    address: str
    in_onec: bool = True


@dataclass(frozen=True)
class Contact:
    key: int
    name: str
    second_name: str
    last_name: str
    phone: str
    email: str
    company_key: int | None


@dataclass(frozen=True)
class Manager:
    bitrix24_id: int
    name: str
    last_name: str
    onec_user_key: str


@dataclass(frozen=True)
class DealRow:
    product_ref: str
    quantity: Decimal
    price_brutto: Decimal  # unit price before discount, including VAT
    discount_rate: Decimal  # percent
    tax_included: bool


@dataclass(frozen=True)
class Deal:
    key: int
    title: str
    pipeline_id: int
    stage: str
    type_id: str
    company_key: int | None
    contact_key: int | None
    assigned_by: int
    currency: str
    rows: tuple[DealRow, ...]
    created_days_ago: int


@dataclass
class Dataset:
    seed: int
    pipelines: list[Pipeline]
    products: list[Product]
    companies: list[Company]
    contacts: list[Contact]
    managers: list[Manager]
    deals: list[Deal]
    organisation: Company = field(default=None)  # type: ignore[assignment]

    def product(self, ref_key: str) -> Product:
        return next(product for product in self.products if product.ref_key == ref_key)


PIPELINES = [
    Pipeline(0, "Общая", (
        Stage("NEW", "Новая", "process"),
        Stage("PREPARATION", "Подготовка документов", "process"),
        Stage("PREPAYMENT_INVOICE", "Счёт на предоплату", "process"),
        Stage("EXECUTING", "В работе", "process"),
        Stage("FINAL_INVOICE", "Финальный счёт", "process"),
        Stage("WON", "Сделка успешна", "success"),
        Stage("LOSE", "Сделка провалена", "failure"),
        Stage("APOLOGY", "Анализ причины провала", "failure"),
    )),
    Pipeline(1, "Опт", (
        Stage("C1:NEW", "Новая заявка", "process"),
        Stage("C1:PREPARATION", "Согласование", "process"),
        Stage("C1:EXECUTING", "Отгрузка", "process"),
        Stage("C1:WON", "Сделка успешна", "success"),
        Stage("C1:LOSE", "Сделка провалена", "failure"),
    )),
]

_PRODUCT_KINDS = [
    ("Кабель ВВГнг-LS 3х2,5", "м", 6, Decimal("96.40")),
    ("Автоматический выключатель ABB S201 C16", "шт", 796, Decimal("645.00")),
    ("Розетка Legrand Valena двойная", "шт", 796, Decimal("412.50")),
    ("Светильник светодиодный ДПО 36 Вт", "шт", 796, Decimal("1290.00")),
    ("Гофротруба ПНД 20 мм", "м", 6, Decimal("18.90")),
    ("Щит распределительный ЩРН-12", "шт", 796, Decimal("2350.00")),
    ("Лента изоляционная ПВХ 19 мм", "шт", 796, Decimal("54.00")),
    ("Провод ПуГВ 1х6 жёлто-зелёный", "м", 6, Decimal("71.30")),
    ("Клеммник WAGO 221-413", "шт", 796, Decimal("38.75")),
    ("Удлинитель «Пилот» 5 м", "шт", 796, Decimal("990.00")),
    ("Монтаж электропроводки", "ч", 356, Decimal("1800.00")),
    ("Счётчик электроэнергии Меркурий 201", "шт", 796, Decimal("1875.00")),
]
# Packagings 1C keeps for some kinds (УТ): terminals sold by the box, cable by the drum (under a set of packagings).
_PACKINGS = {
    "Клеммник WAGO 221-413": Packing("Коробка (50 шт)", "упак", 778, 50),
    "Кабель ВВГнг-LS 3х2,5": Packing("Бухта (100 м)", "бухта", 616, 100, kit="Кабель в бухтах"),
}
# Values that must survive filters and round trips unchanged.
_HOSTILE = [
    ("Кабель «O'Neil» 5\"", "O'Neil 5\""),
    ("Набор & инструмент #1", "A&B#1"),
    ("Скидка 100% 🔌 розетка", "PCT%100"),
]
_COMPANY_NAMES = ["Ромашка", "Электромонтаж", "Вектор", "Северный ветер", "СтройИнвест", "Альфа-Сервис",
                  "Техноком", "Энергия", "Меридиан", "Орион", "Гранит", "Прогресс", "Кедр", "Заря", "Полюс"]
_FORMS = [("ООО", "Общество с ограниченной ответственностью"), ("АО", "Акционерное общество")]
_FIRST = ["Иван", "Пётр", "Анна", "Мария", "Сергей", "Ольга", "Дмитрий", "Елена", "Алексей", "Наталья"]
_MIDDLE = ["Иванович", "Петрович", "Сергеевна", "Алексеевна", "Дмитриевич", "Николаевна"]
_LAST = ["Смирнов", "Кузнецова", "Попов", "Васильева", "Соколов", "Михайлова", "Новиков", "Фёдорова"]
_CITIES = ["г. Москва, ул. Тверская, д. 7", "г. Санкт-Петербург, Невский пр., д. 28",
           "г. Казань, ул. Баумана, д. 44", "г. Екатеринбург, ул. Ленина, д. 5"]
_TITLES = ["Поставка электрооборудования", "Комплектация объекта", "Заказ с сайта", "Монтаж щитовой",
           "Освещение склада", "Повторный заказ", "Кабель для стройки", "Срочная отгрузка"]


GREGORIAN_OFFSET = 0x01B21DD213814000  # 100-ns intervals from 1582-10-15 to 1970-01-01 (RFC 4122)
DATASET_EPOCH = 1_700_000_000.0  # when the generated base "made" its objects (November 2023)


def object_guid(rng: random.Random, moment: float) -> str:
    """A Ref_Key as a real base makes it: a time-based (version 1) UUID, like the documentation's
    `41aa6331-954f-11e3-814b-005056c00008` (ODATA.md §2), from a moment, a random clock sequence and a node
    (128 random bits drawn, so a dataset stays the same whatever form its GUIDs take)."""
    bits = rng.getrandbits(128)
    ticks = int(moment * 10_000_000) + GREGORIAN_OFFSET + (bits & 0xFFF)
    node = 0x005056000000 | (bits >> 12) & 0xFFFFFF  # a virtual machine's MAC, as 1C servers often have
    sequence = (bits >> 36) & 0x3FFF
    return str(uuid.UUID(fields=(ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF, (ticks >> 48) & 0x0FFF | 0x1000,
                                 0x80 | sequence >> 8, sequence & 0xFF, node)))


def _uuid(rng: random.Random) -> str:
    return object_guid(rng, DATASET_EPOCH)


def inn10(rng: random.Random) -> str:
    """A valid 10-digit INN of a legal entity (the control digit computed as the tax service does)."""
    digits = [rng.randint(0, 9) for _ in range(9)]
    digits[0] = rng.randint(1, 9)
    weights = [2, 4, 10, 3, 5, 9, 4, 6, 8]
    control = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(control)


def generate(deals: int = 50, seed: int = 1) -> Dataset:
    """Build the dataset for `deals` deals; the same arguments always give the same data."""
    rng = random.Random(seed)
    products: list[Product] = []
    product_count = max(len(_PRODUCT_KINDS) + len(_HOSTILE) + 1, deals // 10)
    for index in range(product_count):
        if index < len(_HOSTILE):
            name, article = _HOSTILE[index]
            measure, code, price = "шт", 796, Decimal("100.00") + index
        else:
            base_name, measure, code, price = _PRODUCT_KINDS[index % len(_PRODUCT_KINDS)]
            series = index // len(_PRODUCT_KINDS)
            name = base_name if series == 0 else f"{base_name}, партия {series + 1}"
            article = f"ART-{index + 1:05d}"
        vat = rng.choice([22, 22, 22, 10, 0, None])
        packing = None if index < len(_HOSTILE) else _PACKINGS.get(base_name)
        products.append(Product(ref_key=_uuid(rng), article=article, name=name, price=money(price), vat_rate=vat,
                                measure_code=code, measure_name=measure, packing=packing))
    # The last product exists only in Bitrix24: deals that use it fail until someone adds it to 1C.
    last = products[-1]
    products[-1] = Product(last.ref_key, last.article, last.name + " (нет в 1С)", last.price, last.vat_rate,
                           last.measure_code, last.measure_name, in_bitrix24=True, in_onec=False)

    companies: list[Company] = []
    company_count = max(5, deals // 5)
    for index in range(company_count):
        short, full = _FORMS[index % len(_FORMS)]
        base = _COMPANY_NAMES[index % len(_COMPANY_NAMES)]
        suffix = "" if index < len(_COMPANY_NAMES) else f" {index // len(_COMPANY_NAMES) + 1}"
        inn = inn10(rng)
        companies.append(Company(
            key=index + 1,
            title=f"{short} «{base}{suffix}»",
            full_name=f"{full} «{base}{suffix}»",
            inn=inn,
            kpp=f"{inn[:4]}01001",
            ogrn=f"1{rng.randint(10**11, 10**12 - 1)}",
            director=f"{rng.choice(_LAST)} {rng.choice(_FIRST)[0]}. {rng.choice(_FIRST)[0]}.",
            address=rng.choice(_CITIES),
            in_onec=index != company_count - 1,  # the last company has no counterparty in 1C
        ))
    organisation = Company(key=0, title="ООО «Электросбыт»", full_name="Общество с ограниченной ответственностью "
                           "«Электросбыт»", inn="7701234560", kpp="770101001", ogrn="1027700000001",
                           director="Соколов А. В.", address="г. Москва, ул. Складочная, д. 1")

    contacts: list[Contact] = []
    for index in range(max(5, deals // 3)):
        company = companies[index % len(companies)] if index % 3 else None
        contacts.append(Contact(
            key=index + 1,
            name=rng.choice(_FIRST), second_name=rng.choice(_MIDDLE), last_name=rng.choice(_LAST),
            phone=f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
            email=f"client{index + 1}@example.ru",
            company_key=company.key if company else None,
        ))

    managers = [Manager(1, "Алексей", "Иванов", _uuid(rng)),
                Manager(3, "Ольга", "Петрова", _uuid(rng)),
                Manager(5, "Сергей", "Смирнов", _uuid(rng))]

    usable = [product for product in products if product.in_onec]
    deal_list: list[Deal] = []
    # Deal 5 has a product that exists only in Bitrix24, deal 8 a company with no counterparty in 1C.
    for index in range(deals):
        pipeline = PIPELINES[index % 4 == 3]
        stage = rng.choice([stage for stage in pipeline.stages if stage.semantics == "process"])
        row_count = rng.randint(1, 20)
        rows = []
        for _ in range(row_count):
            product = rng.choice(usable)
            quantity = Decimal(rng.choice([1, 1, 2, 3, 5, 10, 12, 25]))
            discount = Decimal(rng.choice([0, 0, 0, 5, 10, 15]))
            rows.append(DealRow(product.ref_key, quantity, product.price, discount,
                                tax_included=rng.random() < 0.7))
        company = rng.choice(companies[:-1]) if rng.random() < 0.8 else None
        contact = rng.choice(contacts)
        if deals >= 10 and index == 4:  # the gap: a product 1C does not know
            gap = products[-1]
            rows.append(DealRow(gap.ref_key, Decimal(1), gap.price, Decimal(0), tax_included=True))
        if deals >= 10 and index == 7:  # the gap: a company without a counterparty in 1C
            company = companies[-1]
        deal_list.append(Deal(
            key=index + 1,
            title=f"{rng.choice(_TITLES)} №{index + 1}",
            pipeline_id=pipeline.id,
            stage=stage.code,
            type_id=rng.choice(["SALE", "GOODS", "COMPLEX"]),
            company_key=company.key if company else None,
            contact_key=contact.key,
            assigned_by=rng.choice(managers).bitrix24_id,
            currency="RUB",
            rows=tuple(rows),
            created_days_ago=rng.randint(0, 30),
        ))
    return Dataset(seed=seed, pipelines=PIPELINES, products=products, companies=companies, contacts=contacts,
                   managers=managers, deals=deal_list, organisation=organisation)
