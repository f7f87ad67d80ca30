"""Reading numbers and expressions out of a model's short final answer, safely.

Nothing here evaluates arbitrary code: text is first checked against a small alphabet and
length, then handed to sympy's parser with a global namespace that holds only sympy
constructors and a few math functions (no builtins).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

MAX_LEN = 300
SAFE_CHARS = re.compile(r"^[\w\s.+\-*/^(),]*$")
TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)
_FUNCS = {
    name: getattr(sp, name)
    for name in (
        "sqrt exp log sin cos tan asin acos atan sinh cosh tanh pi E I oo Abs Rational "
        "Integer Float Symbol Mul Add Pow factorial"
    ).split()
}
_FUNCS["ln"] = sp.log
_FUNCS["e"] = sp.E
_FUNCS["i"] = sp.I
_FUNCS["j"] = sp.I
_GLOBALS = {"__builtins__": {}, **_FUNCS}
SYMBOLS = {name: sp.Symbol(name) for name in ("t", "x", "y", "z", "n", "k", "a", "b", "c")}

LATEX = [
    (re.compile(r"\\d?frac\{([^{}]*)\}\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\sqrt\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\^\{([^{}]*)\}"), r"^(\1)"),
    (re.compile(r"\\(?:left|right|,|;|!|displaystyle)"), ""),
    (re.compile(r"\\(?:cdot|times)"), "*"),
    (re.compile(r"\\pi\b"), "pi"),
    (re.compile(r"\\pm\b"), "±"),
    (re.compile(r"\\(sin|cos|tan|ln|log|exp)\b"), r"\1"),
]
UNICODE = {"−": "-", "–": "-", "×": "*", "·": "*", "π": "pi", "²": "^2", "³": "^3"}
ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|\w+|\([^()]*\))")


def clean(text: str) -> str:
    """Strip the markdown, LaTeX wrappers and punctuation a model puts around an answer."""
    s = text.strip()
    boxed = re.findall(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}", s)
    if boxed:
        s = boxed[-1]
    for a, b in UNICODE.items():
        s = s.replace(a, b)
    s = ROOT.sub(r"sqrt(\1)", s)
    s = re.sub(r"\\\(|\\\)|\\\[|\\\]|\$\$?", " ", s)
    for pattern, repl in LATEX:
        s = pattern.sub(repl, s)
    s = re.sub(r"[*_]{2,}|`+", "", s)  # **bold**, __bold__, `code`
    s = s.strip().strip("\"'").strip()
    return s.rstrip(".").strip()


def after_equals(text: str) -> str:
    """'x = 3' -> '3'; 'f(x) ≈ 1.5' -> '1.5'."""
    parts = re.split(r"=|≈|≅", text)
    return parts[-1].strip()


def to_expr(text: str, symbols: bool = False) -> sp.Expr | None:
    """Parse one expression (numbers, sqrt, pi, i, fractions, ...); None if it does not parse."""
    s = text.strip()
    if not s or len(s) > MAX_LEN or "__" in s or not SAFE_CHARS.match(s):
        return None
    s = re.sub(r"(\d)\s*[ij]\b", r"\1*I", s)  # 3i, 2.5j -> imaginary unit
    local = dict(SYMBOLS) if symbols else {}
    try:
        expr = parse_expr(
            s,
            local_dict=local,
            global_dict=dict(_GLOBALS),
            transformations=TRANSFORMS,
            evaluate=False,
        )
    except Exception:  # the parser raises many kinds of errors on junk input
        return None
    return expr if isinstance(expr, sp.Basic) else None


def tame(expr: sp.Basic) -> bool:
    """False for huge powers and factorials (10^10^10), whose numeric value would take forever."""
    if not all(tame(arg) for arg in expr.args):
        return False
    if isinstance(expr, (sp.Pow, sp.factorial)):
        arg = expr.exp if isinstance(expr, sp.Pow) else expr.args[0]
        if not arg.free_symbols:
            try:
                return abs(complex(sp.N(arg, 15))) <= 10_000
            except (TypeError, ValueError, OverflowError):
                return False
    return True


def to_complex(expr: sp.Basic) -> complex | None:
    if expr.free_symbols or not tame(expr):
        return None
    try:
        value = complex(sp.N(expr, 30))
    except (TypeError, ValueError, OverflowError):
        return None
    return value if all(map(_finite, (value.real, value.imag))) else None


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


NUMBER = re.compile(
    r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+)?|[-+]?\.\d+"
)


def number_tokens(text: str) -> list[str]:
    text = re.sub(r"(\d)\s*[x*]\s*10\s*\^\s*\(?([-+]?\d+)\)?", r"\1e\2", text)  # 2.5 x 10^3
    return [m.group(0).replace(",", "") for m in NUMBER.finditer(text)]


def parse_number(text: str) -> complex | None:
    """The number a short answer states: a whole expression if it is one, else its first number."""
    s = after_equals(clean(text))
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators
    expr = to_expr(s)
    if expr is not None:
        value = to_complex(expr)
        if value is not None:
            return value
    tokens = number_tokens(s)
    if not tokens:
        return None
    expr = to_expr(tokens[0])
    return to_complex(expr) if expr is not None else None
