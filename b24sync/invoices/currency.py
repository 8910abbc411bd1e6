"""The currencies an invoice names, with the words «Сумма прописью» needs and the short form after a figure.

Forms follow the usual Russian invoice wording (as 1C's own «Сумма прописью» parameters spell them): the major
unit's three plural forms and grammatical gender, then the minor unit's. A currency not listed here is printed
by its code, in figures; never as roubles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    code: str  # ISO 4217 letter code
    numeric: str  # ISO 4217 numeric code, as Catalog_Валюты.Code holds it
    major: tuple[str, str, str]  # 1 рубль, 2 рубля, 5 рублей
    major_gender: str  # "m" or "f": одна гривна, один рубль
    minor: tuple[str, str, str]
    short: str  # after a figure: «на сумму 1 285,00 долл. США»

    @property
    def known(self) -> bool:
        return bool(self.major[0])


CURRENCIES = (
    Currency("RUB", "643", ("рубль", "рубля", "рублей"), "m", ("копейка", "копейки", "копеек"), "руб."),
    Currency("USD", "840", ("доллар США", "доллара США", "долларов США"), "m", ("цент", "цента", "центов"),
             "долл. США"),
    Currency("EUR", "978", ("евро", "евро", "евро"), "m", ("цент", "цента", "центов"), "евро"),
    Currency("CNY", "156", ("юань", "юаня", "юаней"), "m", ("фэнь", "фэня", "фэней"), "юан."),
    Currency("KZT", "398", ("тенге", "тенге", "тенге"), "m", ("тиын", "тиына", "тиынов"), "тенге"),
    Currency("BYN", "933", ("белорусский рубль", "белорусских рубля", "белорусских рублей"), "m",
             ("копейка", "копейки", "копеек"), "бел. руб."),
)
_BY_CODE = {key: item for item in CURRENCIES for key in (item.code, item.numeric)}
RUB = _BY_CODE["RUB"]


def currency(code: str | None) -> Currency:
    """The currency by its letter or numeric code; an unlisted one keeps its code and has no words."""
    wanted = (code or "RUB").strip().upper()
    found = _BY_CODE.get(wanted)
    if found is not None:
        return found
    return Currency(wanted, "", ("", "", ""), "m", ("", "", ""), wanted)


def figure(amount: object) -> str:
    """An amount as Russian documents print it: «68 611,65» (spaces between thousands, a decimal comma)."""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


def money(amount: object, code: str | None) -> str:
    """A figure as a manager reads it in a comment: «68 611,65 ₽», «1 285,00 USD»."""
    text = figure(amount)
    wanted = currency(code)
    return f"{text} ₽" if wanted.code == "RUB" else f"{text} {wanted.code}"
