"""Logical groups of filters: ``or=(...)``, ``and=(...)`` and ``not=(...)``.

``?or=(age__lt=18,age__gt=65)`` keeps rows that meet either condition;
``?not=(team.name__ilike=league)`` keeps rows that do not meet it (``not`` of several
conditions negates all of them together); ``?and=(or(a=1,b=2),or(c=3,d=4))`` nests groups.
A condition is written as its own query parameter would be, ``field__op=value``, with the
filters the router allows; the value of ``in`` and ``not_in`` is a parenthesised list
(``team_id__in=(1,2)``), that of ``between`` two values (``age__between=(18,65)``), and text
holding ``,``, ``(``, ``)`` or ``"`` is double-quoted, with ``\\"`` and ``\\\\`` inside.

Groups nest `MAX_DEPTH` deep (the parameter's group and the groups in it), and a parameter
holds at most `MAX_LENGTH` characters, which bounds the number of conditions. Bounded nesting
makes the grammar regular, so it is written as one regular expression per router: the OpenAPI
document states it as the parameter's ``pattern``, and a value that does not match is refused.
The expression uses no counted repetition (``{0,9}``), which some regex engines unroll: the
length of the parameter is the bound instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._filters import FilterSpec
from ._patterns import alternation, scalar_value

MAX_DEPTH = 2
"""How deep groups nest: a parameter's group, and groups inside it."""

MAX_LENGTH = 2000
"""The longest value of a group parameter, in characters."""

GROUP_PARAMS = ("or", "and", "not")

_QUOTED = r'"(?:[^"\\\x00]|\\["\\])*"'
_BARE = r'[^,()"\x00]*'
_TEXT = f"(?:{_QUOTED}|{_BARE})"
_LIST_OPS = ("in", "not_in")


class GroupError(ValueError):
    """A group that cannot be read; the message names the part that is wrong."""


@dataclass(frozen=True)
class Leaf:
    """One condition: an allowed filter and its raw value (or values)."""

    spec: FilterSpec
    value: str | list[str]


@dataclass(frozen=True)
class Group:
    """``or``, ``and`` or ``not`` of conditions and groups."""

    kind: str
    items: tuple[Leaf | Group, ...]


def _value_pattern(spec: FilterSpec) -> str:
    if spec.op == "isnull":
        return "(?:true|false)"
    value = scalar_value(spec.value_type, spec.bounds, _TEXT, exact_integers=False)
    if spec.op in _LIST_OPS:
        return rf"\((?:{value}(?:,{value})*)?\)"
    if spec.op == "between":
        return rf"\({value},{value}\)"
    return value


class Grammar:
    """The group grammar of one router: its regular expression and its parser."""

    def __init__(self, filters: Sequence[FilterSpec]) -> None:
        self.filters = {spec.alias: spec for spec in filters}
        by_value: dict[str, list[str]] = {}
        for spec in filters:
            by_value.setdefault(_value_pattern(spec), []).append(spec.alias)
        leaf = "(?:" + "|".join(f"{alternation(a)}={v}" for v, a in by_value.items()) + ")"
        item = leaf
        for _ in range(MAX_DEPTH - 1):
            item = rf"(?:{leaf}|{alternation(GROUP_PARAMS)}\({item}(?:,{item})*\))"
        self.pattern = rf"^\({item}(?:,{item})*\)$"

    @functools.cached_property
    def _regex(self) -> re.Pattern[str]:
        # Compiled on first use: a long expression, and many routers never see a group.
        return re.compile(self.pattern)

    def parse(self, kind: str, text: str) -> Group:
        """Read the value of the ``kind`` parameter; `GroupError` naming the wrong part.
        Call `check` once its values are parsed too."""
        reader = _Reader(text, self.filters)
        items = reader.group(1)
        if reader.pos != len(text):
            reader.fail("expected the end after the closing ')'")
        return Group(kind, items)

    def check(self, text: str) -> None:
        """Refuse a value the documented pattern does not match (the parser reads a little
        more loosely, to say what is wrong)."""
        if not self._regex.match(text):
            raise GroupError("does not match the documented pattern")


class _Reader:
    def __init__(self, text: str, filters: dict[str, FilterSpec]) -> None:
        self.text = text
        self.pos = 0
        self.filters = filters

    def fail(self, message: str) -> None:
        raise GroupError(f"at character {self.pos + 1}: {message}")

    def expect(self, char: str) -> None:
        if not self.text.startswith(char, self.pos):
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            self.fail(f"expected {char!r}, found {found}")
        self.pos += 1

    def group(self, depth: int) -> tuple[Leaf | Group, ...]:
        self.expect("(")
        items = [self.item(depth)]
        while self.text.startswith(",", self.pos):
            self.pos += 1
            items.append(self.item(depth))
        self.expect(")")
        return tuple(items)

    def item(self, depth: int) -> Leaf | Group:
        for kind in GROUP_PARAMS:
            if self.text.startswith(kind + "(", self.pos):
                if depth >= MAX_DEPTH:
                    self.fail(f"groups nest at most {MAX_DEPTH} deep")
                self.pos += len(kind)
                return Group(kind, self.group(depth + 1))
        end = self.text.find("=", self.pos)
        name = self.text[self.pos : end] if end >= 0 else self.text[self.pos :]
        spec = self.filters.get(name)
        if spec is None:
            allowed = ", ".join(self.filters)
            shown = re.split(r"[,()]", name, maxsplit=1)[0]
            self.fail(f"cannot filter by {shown!r}; allowed: {allowed}")
            raise AssertionError  # unreachable
        self.pos = end + 1
        if spec.op in _LIST_OPS or spec.op == "between":
            values = self.values(spec)
            if spec.op == "between" and len(values) != 2:
                self.fail(f"{name} takes two values, (low,high)")
            return Leaf(spec, values)
        return Leaf(spec, self.value(spec))

    def values(self, spec: FilterSpec) -> list[str]:
        self.expect("(")
        values: list[str] = []
        if self.text.startswith(")", self.pos):
            if spec.op == "between":
                self.fail(f"{spec.alias} takes two values, (low,high)")
        else:
            values.append(self.value(spec))
            while self.text.startswith(",", self.pos):
                self.pos += 1
                values.append(self.value(spec))
        self.expect(")")
        return values

    def value(self, spec: FilterSpec) -> str:
        text = self.text
        if text.startswith('"', self.pos) and issubclass(spec.value_type, str):
            out: list[str] = []
            i = self.pos + 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\":
                    if i + 1 >= len(text) or text[i + 1] not in '"\\':
                        self.pos = i
                        self.fail('inside quotes, a backslash escapes only \\" or \\\\')
                    i += 1
                out.append(text[i])
                i += 1
            if i >= len(text):
                self.fail("the quoted text is not closed")
            self.pos = i + 1
            return "".join(out)
        match = _VALUE_END.search(text, self.pos)
        end = match.start() if match else len(text)
        if end < len(text) and text[end] in '"(':
            self.pos = end
            self.fail(f'{spec.alias}: quote text that holds , ( ) or "')
        value = text[self.pos : end]
        self.pos = end
        return value


_VALUE_END = re.compile(r'[,()"]')


def walk(group: Group, leaf: Callable[[Leaf], object]) -> None:
    """Call ``leaf`` on every condition of a group."""
    for item in group.items:
        if isinstance(item, Leaf):
            leaf(item)
        else:
            walk(item, leaf)
