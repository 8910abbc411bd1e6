"""An amount in Russian words, as invoices print it: «Одна тысяча двести один рубль 05 копеек», in the invoice's
currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from b24sync.invoices.currency import RUB, Currency

_ONES = {
    "m": ["", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"],
    "f": ["", "одна", "две", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"],
}
_TEENS = ["десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать", "шестнадцать",
          "семнадцать", "восемнадцать", "девятнадцать"]
_TENS = ["", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят",
         "девяносто"]
_HUNDREDS = ["", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот",
             "девятьсот"]
# (one, few, many, gender) for each power of a thousand
_SCALES = [("", "", "", "m"), ("тысяча", "тысячи", "тысяч", "f"), ("миллион", "миллиона", "миллионов", "m"),
           ("миллиард", "миллиарда", "миллиардов", "m"), ("триллион", "триллиона", "триллионов", "m")]


def plural(number: int, one: str, few: str, many: str) -> str:
    """The noun form that agrees with a number: 1 рубль, 2 рубля, 5 рублей, 11 рублей, 21 рубль."""
    if 11 <= number % 100 <= 14:
        return many
    if number % 10 == 1:
        return one
    if 2 <= number % 10 <= 4:
        return few
    return many


def _triad(number: int, gender: str) -> list[str]:
    words = [_HUNDREDS[number // 100]]
    rest = number % 100
    if 10 <= rest <= 19:
        words.append(_TEENS[rest - 10])
    else:
        words += [_TENS[rest // 10], _ONES[gender][rest % 10]]
    return [word for word in words if word]


def number_in_words(number: int, gender: str = "m") -> str:
    """A whole number in words; `gender` of the unit that follows ("m" рубль, "f" копейка)."""
    if number == 0:
        return "ноль"
    words: list[str] = []
    scale = 0
    while number:
        number, triad = divmod(number, 1000)
        if triad:
            one, few, many, scale_gender = _SCALES[scale]
            part = _triad(triad, gender if scale == 0 else scale_gender)
            if scale:
                part.append(plural(triad, one, few, many))
            words = part + words
        scale += 1
    return " ".join(words)


def amount_in_words(amount: Decimal, in_currency: Currency = RUB) -> str:
    """The whole units in words and the minor ones in figures, the usual form of «Сумма прописью»:
    «Одна тысяча двести восемьдесят пять долларов США 00 центов». A currency without listed words is said in
    words with its code: «Одна тысяча двести восемьдесят пять GBP 00»."""
    amount = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole = int(amount)
    minor = int((amount - whole) * 100)
    if in_currency.known:
        text = (f"{number_in_words(whole, in_currency.major_gender)} {plural(whole, *in_currency.major)} "
                f"{minor:02d} {plural(minor, *in_currency.minor)}")
    else:
        text = f"{number_in_words(whole)} {in_currency.code} {minor:02d}"
    return text[0].upper() + text[1:]
