"""Gate expressions: a tiny grammar, parsed by hand and never handed to ``eval``.

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := atom (("<" | "<=" | ">" | ">=" | "==" | "!=") atom)?
    atom    := NUMBER | "true" | "false" | NAME | "(" expr ")"
    NAME    := [A-Za-z_][A-Za-z0-9_]* ("." [A-Za-z0-9_]+)*

Anything else (calls, attribute tricks, strings, subscripts) is a syntax error with its column.
Number literals are finite and at most :data:`MAX_NUMBER` (1e15) in size.

Evaluation contract (:func:`evaluate`): it returns ``(truth, reasons)`` or raises
:class:`Unknown` (a needed value is missing or None) or its subclass :class:`BadValue` (a value
that is not a bool, an int or a finite float: a string, NaN, infinity, anything else). Nothing
else is raised for any values, so catching ``Unknown`` is enough to make the gate UNKNOWN. A
comparison is made only between numbers (bools count as 0/1), exactly (a 400-digit int is
compared as it is, never through a float), so a comparison with a non-finite or non-numeric
operand is an error, never True.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from cockpit.units import DEFAULT_DECIMALS, decimals_for, format_value, infer_unit

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_NUMBER = 1e15

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"|(?P<op><=|>=|==|!=|<|>|\(|\)))",
    re.ASCII,
)
_KEYWORDS = {"and", "or", "not", "true", "false"}


class ExprError(ValueError):
    """A syntax error; ``column`` is 1-based within the expression text."""

    def __init__(self, message: str, column: int):
        super().__init__(f"{message} at column {column}")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


Node = Union[Num, Bool, Name, Not, BoolOp, Compare]  # noqa: UP007 - used at runtime


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | name | kw | op | end
    text: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    """Tokens up to the first bad character, which becomes a ``bad`` token: the parser then
    reports the first problem in reading order (a call before a stray quote inside it)."""
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            col = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip()))
            toks.append(_Tok("bad", text[col - 1], col))
            return toks
        kind = m.lastgroup or "op"
        value = m.group(kind)
        col = m.start(kind) + 1
        if kind == "name" and value in _KEYWORDS:
            kind = "kw"
        toks.append(_Tok(kind, value, col))
        pos = m.end()
    toks.append(_Tok("end", "", len(text) + 1))
    return toks


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def deeper(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels", tok.col)

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind == "bad":
            raise ExprError(f"unexpected character {tok.text!r}", tok.col)
        if tok.kind != "end":
            raise ExprError(f"unexpected {tok.text!r}", tok.col)
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_(self) -> Node:
        parts = [self.not_()]
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_(self) -> Node:
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "not":
            self.take()
            self.deeper(tok)
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.cmp()

    def cmp(self) -> Node:
        left = self.atom()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("<", "<=", ">", ">=", "==", "!="):
            self.take()
            right = self.atom()
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text in ("<", "<=", ">", ">=", "==", "!="):
                raise ExprError("chained comparisons are not allowed; join them with 'and'", nxt.col)
            return Compare(tok.text, left, right)
        return left

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            value = float(tok.text)
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                shown = tok.text if len(tok.text) <= 24 else tok.text[:20] + "..."
                raise ExprError(f"number {shown} is out of range (at most 1e15)", tok.col)
            return Num(value)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return Bool(tok.text == "true")
        if tok.kind == "name":
            if any(part.startswith("__") for part in tok.text.split(".")):
                raise ExprError("names starting with '__' are not allowed", tok.col)
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == "(":
                raise ExprError("function calls are not allowed", nxt.col)
            return Name(tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.deeper(tok)
            node = self.or_()
            self.depth -= 1
            close = self.take()
            if close.kind != "op" or close.text != ")":
                raise ExprError("missing ')'" if close.kind == "end" else f"expected ')', got {close.text!r}", close.col)
            return node
        if tok.kind == "end":
            raise ExprError("expression ends too early", tok.col)
        if tok.kind == "bad":
            raise ExprError(f"unexpected character {tok.text!r}", tok.col)
        raise ExprError(f"unexpected {tok.text!r}", tok.col)


def parse(text: object) -> Node:
    """Parse a gate expression or raise :class:`ExprError` with the column of the problem."""
    if not isinstance(text, str):
        raise ExprError("expression must be text", 1)
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not text.strip():
        raise ExprError("expression is empty", 1)
    return _Parser(text).parse()


def names(node: Node) -> list[str]:
    """Signal names used, in first-seen order."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            if n.name not in out:
                out.append(n.name)
        elif isinstance(n, Not):
            walk(n.operand)
        elif isinstance(n, BoolOp):
            for part in n.operands:
                walk(part)
        elif isinstance(n, Compare):
            walk(n.left)
            walk(n.right)

    walk(node)
    return out


def to_text(node: Node) -> str:
    """Canonical text of an expression, for reasons and reports: it parses back to ``node``."""
    if isinstance(node, Num):
        return _literal(node.value)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Not):
        inner = to_text(node.operand)
        return f"not ({inner})" if isinstance(node.operand, BoolOp) else f"not {inner}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(
            f"({to_text(p)})" if isinstance(p, BoolOp) else to_text(p) for p in node.operands
        )
    return f"{_operand(node.left)} {node.op} {_operand(node.right)}"


def _operand(node: Node) -> str:
    return to_text(node) if isinstance(node, (Num, Bool, Name)) else f"({to_text(node)})"


def _literal(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)  # shortest text that reads back as the same float


def _num(value: float | int) -> str:
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else f"{Decimal(value):.6g}"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


Value = Union[float, int, bool]  # noqa: UP007


class Unknown(Exception):
    """A signal the expression needs has no usable value."""

    def __init__(self, name: str, reason: str = "no value"):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class BadValue(Unknown):
    """A value that cannot be compared: not a bool, an int or a finite float."""


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEEDS = {"<": "< ", "<=": "<= ", ">": "> ", ">=": ">= ", "==": "= ", "!=": "not "}


def evaluate(node: Node, values: Mapping[str, object],
             units: Mapping[str, str] | None = None) -> tuple[bool, list[str]]:
    """Truth of ``node`` and the comparisons that decided it, in words.

    A reason is the value and the plain rule, the same words whether the rule holds or not:
    ``replication_lag_s 9.4s, needs < 5s``, ``login_success_rate 0.994, needs >= 0.98``,
    ``feed_paused is false``. Values are written by :func:`cockpit.units.format_value` in the
    signal's unit (``units[name]``, else inferred from the name's suffix), a plain number
    with one decimal more than the threshold it is compared with.

    Raises :class:`Unknown` when a needed signal is missing, :class:`BadValue` (an
    ``Unknown``) when its value is not a bool or a finite number; nothing else. The caller
    turns either into UNKNOWN, because stale is not green.
    """
    result = _eval(node, values, units or {})
    return bool(result[0]), result[1]


def _value(node: Node, values: Mapping[str, object]) -> Value:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, Name):
        value = values.get(node.name)
        if value is None:
            raise Unknown(node.name)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise BadValue(node.name, f"{value} is not a finite number")
        elif not isinstance(value, int):  # bool is an int
            raise BadValue(node.name, f"a {type(value).__name__} is not a number")
        return value
    truth, _ = _eval(node, values, {})
    return truth


def _unit(name: str, units: Mapping[str, str]) -> str:
    return units.get(name) or infer_unit(name)


def _reason(node: Compare, left: Value, right: Value, units: Mapping[str, str]) -> str:
    op, lnode, rnode, lval, rval = node.op, node.left, node.right, left, right
    if not isinstance(lnode, Name) and isinstance(rnode, Name):
        # "5 > lag" reads as "lag ..., needs < 5"
        op, lnode, rnode, lval, rval = _FLIP[op], rnode, lnode, rval, lval
    needs = _NEEDS[op]
    if isinstance(lnode, Name) and isinstance(rnode, (Num, Bool)):
        unit = _unit(lnode.name, units)
        places = decimals_for(lnode.name, [rnode.value] if isinstance(rnode, Num) else [])
        shown = format_value(lval, unit, places)
        limit = (format_value(rnode.value, unit, threshold=True) if isinstance(rnode, Num)
                 else to_text(rnode))
        return f"{lnode.name} {shown}, needs {needs}{limit}"
    if isinstance(lnode, Name) and isinstance(rnode, Name):
        a = format_value(lval, _unit(lnode.name, units), DEFAULT_DECIMALS)
        b = format_value(rval, _unit(rnode.name, units), DEFAULT_DECIMALS)
        return f"{lnode.name} {a}, needs {needs}{rnode.name} ({b})"
    return f"{to_text(node)} is {'true' if _compare(node.op, left, right) else 'false'}"


def _eval(node: Node, values: Mapping[str, object],
          units: Mapping[str, str]) -> tuple[bool, list[str]]:
    if isinstance(node, Compare):
        left, right = _value(node.left, values), _value(node.right, values)
        ok = _compare(node.op, left, right)
        return ok, [_reason(node, left, right, units)]
    if isinstance(node, Not):
        truth, why = _eval(node.operand, values, units)
        return (not truth), why
    if isinstance(node, BoolOp):
        reasons: list[str] = []
        deciding: list[str] = []
        for part in node.operands:
            truth, why = _eval(part, values, units)
            reasons.extend(why)
            if node.op == "and" and not truth:
                deciding.extend(why)
            if node.op == "or" and truth:
                deciding.extend(why)
        if node.op == "and":
            ok = not deciding
            return ok, reasons if ok else deciding
        ok = bool(deciding)
        return ok, deciding if ok else reasons
    value = _value(node, values)
    shown = to_text(node)
    if isinstance(value, bool):
        return value, [f"{shown} is {'true' if value else 'false'}"]
    return value != 0, [f"{shown} {_num(value)}, needs not 0"]


def _compare(op: str, a: Value, b: Value) -> bool:
    # Both sides are bools, ints or finite floats (see _value): Python compares them exactly.
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b
