"""The `$filter` language of the 1C standard OData interface: a parser and an evaluator.

Supported as the platform does: eq ne gt ge lt le, and or not, parentheses,
add sub mul div, literals (guid'…', datetime'…', '…' with doubled quotes,
numbers, true, false, null), substringof, startswith, endswith, cast, isof,
year, month, day, paths through references (`Контрагент/ИНН`) and lambdas over
tabular sections (`Товары/any(d: d/Цена gt 10)`). The `in` operator is refused
with code 14, as the platform refuses it. A composite attribute is compared only
with a `cast(guid'…', 'Document_X')` value, as the documentation promises; compared
with a bare guid it matches nothing (documented), and with a string or a number it
matches nothing too (undocumented: the emulator refuses to believe it works).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from b24sync_emulators.onec.schema import BOOLEAN, DATETIME, DOUBLE, GUID, GUID_PATTERN, INT64, ZERO_GUID, Entity


class QueryError(Exception):
    """A query the platform refuses: HTTP status, 1C code and the Russian message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_value(value: Any, edm: str) -> QueryError:
    """A key, literal or written value that does not parse as its type (400, code 1: ODATA.md §6)."""
    return QueryError(400, "1", f"Не удалось разобрать строку '{value}' как значение типа {edm}!")


def bad_guid(value: str) -> QueryError:
    return bad_value(value, "Edm.Guid")


def not_found(entity_name: str) -> QueryError:
    """No object of this entity set under the key given (404, code 9)."""
    return QueryError(404, "9", f"Экземпляр сущности \"{entity_name}\" не найден по переданному ключу.")


def not_published(set_name: str) -> QueryError:
    """An entity set the base does not publish (404, code 8)."""
    return QueryError(404, "8", f"Не найден тип сущности \"{set_name}\": объект не опубликован в составе "
                                f"стандартного интерфейса OData")


def parse_error(detail: str = "") -> QueryError:
    text = "Ошибка при разборе опции запроса $filter"
    return QueryError(400, "14", f"{text}: {detail}" if detail else text)


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<guid>guid'(?P<guidv>[^']*)')
  | (?P<datetime>datetime'(?P<datev>[0-9T:.-]+)')
  | (?P<string>'(?P<strv>(?:[^']|'')*)')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[^\W\d][\w]*)
  | (?P<punct>[()/,:])
""", re.VERBOSE | re.UNICODE)

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
ARITHMETIC = {"add", "sub", "mul", "div"}


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise parse_error(f"неожиданный символ «{text[position]}» в позиции {position + 1}")
        position = match.end()
        kind = match.lastgroup
        if kind == "space":
            continue
        if kind in ("guid", "guidv"):
            value = match.group("guidv")
            if not GUID_PATTERN.match(value):
                raise bad_guid(value)
            tokens.append(Token("literal", Guid(value.lower())))
        elif kind in ("datetime", "datev"):
            try:
                tokens.append(Token("literal", datetime.fromisoformat(match.group("datev"))))
            except ValueError:
                raise parse_error(f"неверная дата {match.group('datev')}") from None
        elif kind in ("string", "strv"):
            tokens.append(Token("literal", match.group("strv").replace("''", "'")))
        elif kind == "number":
            text_number = match.group("number")
            tokens.append(Token("literal", float(text_number) if "." in text_number else int(text_number)))
        elif kind == "name":
            tokens.append(Token("name", match.group("name")))
        else:
            tokens.append(Token("punct", match.group("punct")))
    return tokens


@dataclass(frozen=True)
class Guid:
    value: str


@dataclass(frozen=True)
class Composite:
    value: str
    type: str


Node = Callable[["Scope"], Any]


@dataclass
class Scope:
    """What a filter sees: the record, its entity, a resolver for references, lambda variables."""

    record: dict[str, Any]
    entity: Entity
    entities: dict[str, Entity]
    resolve: Callable[[str, str], dict[str, Any] | None]  # (entity set, ref) -> record
    variables: dict[str, tuple[dict[str, Any], Any]]


class Parser:
    def __init__(self, text: str, entity: Entity, entities: dict[str, Entity]) -> None:
        self.tokens = tokenize(text)
        self.position = 0
        self.entity = entity
        self.entities = entities

    def parse(self) -> Node:
        node = self.expression()
        if self.position != len(self.tokens):
            raise parse_error(f"лишний текст после позиции {self.position}")
        return node

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise parse_error("неожиданный конец выражения")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token.value != value:
            raise parse_error(f"ожидалось «{value}»")

    def word(self) -> str | None:
        token = self.peek()
        return token.value.lower() if token and token.kind == "name" else None

    def expression(self) -> Node:
        left = self.conjunction()
        while self.word() == "or":
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda scope: bool(a(scope)) or bool(b(scope)))(left, right)
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.word() == "and":
            self.take()
            right = self.negation()
            left = (lambda a, b: lambda scope: bool(a(scope)) and bool(b(scope)))(left, right)
        return left

    def negation(self) -> Node:
        if self.word() == "not":
            self.take()
            inner = self.negation()
            return lambda scope: not inner(scope)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.arithmetic()
        operator = self.word()
        if operator == "in":
            raise parse_error("оператор in не поддерживается")
        if operator in COMPARISONS:
            self.take()
            right = self.arithmetic()
            return lambda scope: compare(operator, left(scope), right(scope))
        return left

    def arithmetic(self) -> Node:
        left = self.term()
        while self.word() in ("add", "sub"):
            operator = self.take().value.lower()
            right = self.term()
            left = (lambda a, b, op: lambda scope: calculate(op, a(scope), b(scope)))(left, right, operator)
        return left

    def term(self) -> Node:
        left = self.primary()
        while self.word() in ("mul", "div"):
            operator = self.take().value.lower()
            right = self.primary()
            left = (lambda a, b, op: lambda scope: calculate(op, a(scope), b(scope)))(left, right, operator)
        return left

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "punct" and token.value == "(":
            node = self.expression()
            self.expect(")")
            return node
        if token.kind == "literal":
            value = token.value
            return lambda scope: value
        if token.kind != "name":
            raise parse_error(f"неожиданный символ «{token.value}»")
        name = token.value
        lowered = name.lower()
        if lowered in ("true", "false"):
            return lambda scope: lowered == "true"
        if lowered == "null":
            return lambda scope: None
        following = self.peek()
        if following and following.kind == "punct" and following.value == "(":
            return self.function(lowered)
        return self.path(name)

    def function(self, name: str) -> Node:
        self.expect("(")
        arguments: list[Node] = []
        if not (self.peek() and self.peek().value == ")"):
            arguments.append(self.expression())
            while self.peek() and self.peek().value == ",":
                self.take()
                arguments.append(self.expression())
        self.expect(")")
        functions: dict[str, Callable[..., Any]] = {
            "substringof": lambda needle, hay: str(needle).lower() in str(hay or "").lower(),
            "startswith": lambda hay, prefix: str(hay or "").lower().startswith(str(prefix).lower()),
            "endswith": lambda hay, suffix: str(hay or "").lower().endswith(str(suffix).lower()),
            "cast": lambda value, type_name: Composite(_text(value), f"StandardODATA.{type_name}"),
            "isof": lambda value, type_name: isinstance(value, Composite)
            and value.type == f"StandardODATA.{type_name}",
            "like": lambda value, pattern: _like(value, pattern),
            "concat": lambda left, right: f"{_text(left)}{_text(right)}",
            "substring": lambda value, start, length=None: _text(value)[int(start):][:None if length is None
                                                                                        else int(length)],
            "round": lambda value: round(value) if isinstance(value, int | float) else None,
            "hour": lambda value: _as_datetime(value).hour if _as_datetime(value) else None,
            "minute": lambda value: _as_datetime(value).minute if _as_datetime(value) else None,
            "second": lambda value: _as_datetime(value).second if _as_datetime(value) else None,
            "year": lambda value: _as_datetime(value).year if _as_datetime(value) else None,
            "month": lambda value: _as_datetime(value).month if _as_datetime(value) else None,
            "day": lambda value: _as_datetime(value).day if _as_datetime(value) else None,
            "quarter": lambda value: (_as_datetime(value).month - 1) // 3 + 1 if _as_datetime(value) else None,
            "dayofyear": lambda value: _as_datetime(value).timetuple().tm_yday if _as_datetime(value) else None,
            # ДЕНЬНЕДЕЛИ: Monday is 1, Sunday is 7
            "dayofweek": lambda value: _as_datetime(value).isoweekday() if _as_datetime(value) else None,
            "dateadd": _date_add,
            "datedifference": _date_difference,
        }
        if name not in functions:
            raise QueryError(400, "21", f"Функция {name} не поддерживается")
        function = functions[name]
        return lambda scope: function(*(argument(scope) for argument in arguments))

    def path(self, first: str) -> Node:
        segments = [first]
        while self.peek() and self.peek().value == "/":
            self.take()
            token = self.take()
            if token.kind != "name":
                raise parse_error("после «/» ожидалось имя")
            if token.value.lower() in ("any", "all") and self.peek() and self.peek().value == "(":
                return self.lambda_over(segments, token.value.lower())
            segments.append(token.value)
        return lambda scope: resolve_path(scope, segments)

    def lambda_over(self, segments: list[str], kind: str) -> Node:
        self.expect("(")
        variable = self.take()
        if variable.kind != "name":
            raise parse_error("ожидалась переменная лямбда-выражения")
        self.expect(":")
        body = self.expression()
        self.expect(")")
        name = variable.value

        def evaluate(scope: Scope) -> bool:
            table_name = segments[-1]
            rows = resolve_path(scope, segments) if len(segments) > 1 else scope.record.get(table_name)
            if not isinstance(rows, list):
                raise QueryError(400, "14", f"Ошибка при разборе опции запроса $filter: «{table_name}» не является "
                                             f"табличной частью")
            table = scope.entity.table(table_name)
            results = (body(Scope(scope.record, scope.entity, scope.entities, scope.resolve,
                                  {**scope.variables, name: (row, table)})) for row in rows)
            return any(results) if kind == "any" else all(results)

        return evaluate


def _like(value: Any, pattern: Any) -> bool:
    """The platform's ПОДОБНО: % any run, _ one character, [абв] / [0-9] one of a set, [^…] none of it."""
    regex, text, position = "", _text(pattern), 0
    while position < len(text):
        char = text[position]
        closing = text.find("]", position + 1) if char == "[" else -1
        if closing > position + 1:
            body = text[position + 1:closing]
            negated = body.startswith("^")
            members = "".join(re.escape(item) if item != "-" else "-" for item in body.removeprefix("^"))
            regex += f"[{'^' if negated else ''}{members}]"
            position = closing + 1
            continue
        regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
        position += 1
    return re.fullmatch(regex, _text(value), re.S | re.I) is not None


# The parts of dateadd/datedifference, as the query language's ДОБАВИТЬКДАТЕ and РАЗНОСТЬДАТ name them. Their
# OData argument order is not documented; it is believed to follow the query language: (date, part, amount) and
# (date1, date2, part).
_DATE_PARTS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def _date_add(value: Any, part: Any, amount: Any) -> datetime | None:
    moment, unit = _as_datetime(value), str(part).lower()
    if moment is None:
        return None
    if unit in _DATE_PARTS:
        return moment + timedelta(seconds=_DATE_PARTS[unit] * int(amount))
    months = int(amount) * {"month": 1, "quarter": 3, "year": 12}.get(unit, 0)
    if not months:
        raise QueryError(400, "14", f"Ошибка при разборе опции запроса $filter: неизвестная часть даты «{part}»")
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))


def _date_difference(first: Any, second: Any, part: Any) -> int | None:
    start, end, unit = _as_datetime(first), _as_datetime(second), str(part).lower()
    if start is None or end is None:
        return None
    if unit in _DATE_PARTS:
        return int((end - start).total_seconds() // _DATE_PARTS[unit])
    months = (end.year - start.year) * 12 + end.month - start.month
    per = {"month": 1, "quarter": 3, "year": 12}.get(unit)
    if per is None:
        raise QueryError(400, "14", f"Ошибка при разборе опции запроса $filter: неизвестная часть даты «{part}»")
    return months // per if unit != "year" else end.year - start.year


def _text(value: Any) -> str:
    if isinstance(value, Guid):
        return value.value
    if isinstance(value, Composite):
        return value.value
    return "" if value is None else str(value)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def typed(value: Any, edm: str) -> Any:
    """A stored JSON value in a comparable Python form, by its declared type."""
    if value is None:
        return None
    if edm == GUID:
        return Guid(str(value).lower())
    if edm == DATETIME:
        return _as_datetime(value)
    if edm in (DOUBLE, INT64):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if edm == BOOLEAN:
        return bool(value)
    return value


def resolve_path(scope: Scope, segments: list[str]) -> Any:
    """Read a property path: `Ref_Key`, `Контрагент/ИНН`, `d/Цена` inside a lambda."""
    record, entity = scope.record, scope.entity
    first = segments[0]
    table = None
    if first in scope.variables:
        record, table = scope.variables[first]
        segments = segments[1:]
        if not segments:
            return record
    for index, name in enumerate(segments):
        props = table.props if table is not None else entity.props
        prop = next((candidate for candidate in props if name in candidate.wire_names or name == candidate.name), None)
        if prop is None:
            if table is None and entity.table(name) is not None:
                return record.get(name, [])
            raise QueryError(400, "10", f"Свойство «{name}» не найдено")
        last = index == len(segments) - 1
        if prop.kind == "composite" and name == prop.name:
            return Composite(str(record.get(prop.name) or ""), str(record.get(f"{prop.name}_Type") or ""))
        if prop.kind == "ref" and name == prop.name and not last:
            if (prop.target or "") not in scope.entities:
                return None  # a reference to an object this publication does not include
            target = scope.resolve(prop.target or "", str(record.get(f"{prop.name}_Key") or ZERO_GUID))
            if target is None:
                return None
            record, entity, table = target, scope.entities[prop.target or ""], None
            continue
        if prop.kind == "ref" and name == prop.name:
            return Guid(str(record.get(f"{prop.name}_Key") or ZERO_GUID).lower())
        value = typed(record.get(name), prop.edm)
        if not last:
            raise QueryError(400, "10", f"Свойство «{name}» не является ссылкой")
        return value
    return None


def compare(operator: str, left: Any, right: Any) -> bool:
    if isinstance(left, Composite) or isinstance(right, Composite):
        if not (isinstance(left, Composite) and isinstance(right, Composite)):
            return operator == "ne"  # a composite never equals a bare guid, a string or a number: cast() only
        same = left.value.lower() == right.value.lower() and left.type == right.type
        return same if operator == "eq" else not same if operator == "ne" else False
    if isinstance(left, Guid) or isinstance(right, Guid):
        left_text, right_text = _text(left).lower(), _text(right).lower()
        return left_text == right_text if operator == "eq" else left_text != right_text if operator == "ne" else False
    if isinstance(left, datetime) or isinstance(right, datetime):
        left, right = _as_datetime(left), _as_datetime(right)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()
    if operator == "eq":
        return left == right
    if operator == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[operator]
    except TypeError:
        raise QueryError(500, "-1", "Несовместимые типы в операции сравнения") from None



def calculate(operator: str, left: Any, right: Any) -> Any:
    try:
        return {"add": lambda: left + right, "sub": lambda: left - right, "mul": lambda: left * right,
                "div": lambda: left / right}[operator]()
    except (TypeError, ZeroDivisionError):
        raise QueryError(500, "-1", "Ошибка вычисления выражения") from None


def compile_filter(text: str, entity: Entity, entities: dict[str, Entity]) -> Node:
    return Parser(text, entity, entities).parse()
