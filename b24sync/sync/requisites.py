"""INN and KPP as the tax service defines them: normalised before they are matched or stored, checked before
anything reaches 1C (a typo must never create a second counterparty, nor a counterparty nobody can pay)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\u00a0\u2007\u202f\-\u2010-\u2015]+")
_KPP = re.compile(r"^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$")
_DIGITS = re.compile(r"^(?:[0-9]{10}|[0-9]{12})$")
_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def normalise(value: str | None) -> str:
    """Spaces, non-breaking spaces and dashes a person typed are dropped: « 7934 514507» is 7934514507."""
    return _SEPARATORS.sub("", value or "").upper()


def _control(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(digit) * weight for digit, weight in zip(digits, weights, strict=False)) % 11 % 10


def inn_problem(inn: str) -> str | None:
    """Why a (normalised) INN cannot be right, in an accountant's words; None when it is valid."""
    if not _DIGITS.fullmatch(inn):
        return f"ИНН «{inn}» должен состоять из 10 цифр (организация) или 12 цифр (ИП, физическое лицо)"
    if len(inn) == 10 and _control(inn, _WEIGHTS_10) != int(inn[9]):
        return f"ИНН «{inn}» не проходит проверку контрольной цифры"
    if len(inn) == 12 and (_control(inn, _WEIGHTS_11) != int(inn[10]) or _control(inn, _WEIGHTS_12) != int(inn[11])):
        return f"ИНН «{inn}» не проходит проверку контрольных цифр"
    return None


def kpp_problem(kpp: str, inn: str) -> str | None:
    """Why a (normalised) KPP cannot be right for this INN; None when it is valid (or rightly empty)."""
    if not kpp:
        return None
    if len(inn) == 12:
        return f"КПП «{kpp}» указан для ИП или физического лица (ИНН из 12 цифр), у которых КПП не бывает"
    if not _KPP.fullmatch(kpp):
        return f"КПП «{kpp}» должен состоять из 9 знаков: 4 цифры, 2 цифры или латинские буквы, 3 цифры"
    return None
