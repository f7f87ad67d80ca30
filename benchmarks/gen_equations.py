"""The `equations` suite: every answer is computed here with sympy/mpmath, never typed in."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import mpmath as mp
import sympy as sp

from benchmarks.gen_task import Task, distinct, task

x, y, z, w, t = sp.symbols("x y z w t")
INT_ONLY = "Answer with the integer only."


def sig(digits: int) -> str:
    return f"Give the answer as a decimal number to {digits} significant digits."


def tol(digits: int) -> float:
    # rounding to N significant digits is off by at most half a unit in the last place
    return 10.0 ** (1 - digits)


def pretty(expr: sp.Expr) -> str:
    """A polynomial as people write it: x^3 - 6x^2 + 11x - 6."""
    return str(expr).replace("**", "^").replace("*", "")


def num(value: float) -> str:
    return f"{value:g}"


def coef(value: float) -> str:
    """A coefficient in front of a variable: 1 -> '', -1 -> '-', 2.5 -> '2.5'."""
    return {1: "", -1: "-"}.get(value, num(value))  # type: ignore[call-overload]


# ---------------------------------------------------------------- polynomial roots
@distinct
def polynomial_roots(rng: random.Random, i: int) -> Task:
    variant = i % 6
    if variant in (0, 1, 2):
        k = 3 if variant != 1 else 4
        roots = [sp.Integer(r) for r in rng.sample([v for v in range(-12, 13) if v], k)]
        lead = 1
    elif variant == 3:  # one rational root
        den = rng.choice([2, 3, 4, 5])
        p = rng.choice([v for v in range(-9, 10) if v and math.gcd(v, den) == 1])
        roots = [sp.Integer(r) for r in rng.sample([v for v in range(-9, 10) if v], 2)]
        roots.append(sp.Rational(p, den))
        lead = den
    elif variant == 4:  # irrational pair
        b = rng.randint(-8, 8)
        c = rng.randint(-20, -1)
        roots = list(sp.roots(x**2 + b * x + c, x))
        if all(r.is_Integer for r in roots):
            c -= 1
            roots = list(sp.roots(x**2 + b * x + c, x))
        lead = 1
    else:  # a real root and a complex pair
        r0 = rng.randint(-6, 6)
        a, b = rng.randint(-4, 4), rng.randint(1, 5)
        roots = [sp.Integer(r0), a + b * sp.I, a - b * sp.I]
        lead = 1
    poly = sp.expand(lead * sp.prod([x - r for r in roots]))
    if variant == 5:
        q = (
            f"Find all complex roots (real and non-real) of {pretty(poly)} = 0. "
            "Give the roots as a comma-separated list in any order, writing non-real roots "
            "as a+bi (e.g. 2, 1+3i, 1-3i)."
        )
        tl = 1e-6
    elif variant == 4:
        q = (
            f"Find all real roots of {pretty(poly)} = 0. Give the roots as a comma-separated "
            "list in any order, either exact (e.g. 1 + sqrt(5)) or as decimals to at least "
            "8 significant digits."
        )
        tl = 1e-7
    else:
        q = (
            f"Find all real roots of the equation {pretty(poly)} = 0. Give the roots as a "
            "comma-separated list in any order (e.g. -2, 1/3, 5)."
        )
        tl = 1e-6
    answer = [str(sp.nsimplify(r)) for r in roots]
    return task("poly", i, q, answer, "set", "polynomial_roots", rel_tol=tl)


# ---------------------------------------------------------------- linear systems
def term(coef: int, name: str, first: bool) -> str:
    if coef == 0:
        return ""
    sign = "-" if coef < 0 else ("" if first else "+")
    mag = "" if abs(coef) == 1 else str(abs(coef))
    return f"{sign} {mag}{name}".strip() if not first else f"{sign}{mag}{name}"


def equation(coefs: list[int], names: list[str], rhs: int) -> str:
    parts, first = [], True
    for c, v in zip(coefs, names, strict=False):
        s = term(c, v, first)
        if s:
            parts.append(s)
            first = False
    return " ".join(parts) + f" = {rhs}"


@distinct
def linear_systems(rng: random.Random, i: int) -> Task:
    names = ["x", "y", "z"] if i % 3 else ["w", "x", "y", "z"]
    k = len(names)
    sol = [rng.choice([v for v in range(-9, 10) if v]) for _ in range(k)]
    while True:
        mat = sp.Matrix(k, k, lambda *_: rng.randint(-6, 6))
        if mat.det() != 0 and all(any(row) for row in mat.tolist()):
            break
    rhs = mat * sp.Matrix(sol)
    symbols = sp.symbols(names)
    solved = sp.linsolve((mat, rhs), *symbols)
    values = dict(zip(names, next(iter(solved)), strict=False))
    lines = "\n".join(equation(mat.row(r).tolist()[0], names, int(rhs[r])) for r in range(k))
    if i % 4 == 3:
        asked, answer = "x + y + z", values["x"] + values["y"] + values["z"]
        what = f"the value of {asked}"
    else:
        asked = names[i % k]
        answer, what = values[asked], f"the value of {asked}"
    q = f"Solve the system of linear equations:\n{lines}\nWhat is {what}? {INT_ONLY}"
    return task("linear", i, q, int(answer), "int", "linear_systems")


# ---------------------------------------------------------------- transcendental equations
def bisect(f: Callable[[mp.mpf], mp.mpf], lo: float, hi: float) -> float:
    a, b = mp.mpf(lo), mp.mpf(hi)
    fa = f(a)
    assert fa * f(b) < 0, (lo, hi)
    for _ in range(200):
        m = (a + b) / 2
        if fa * f(m) <= 0:
            b = m
        else:
            a, fa = m, f(m)
    return float((a + b) / 2)


@distinct
def transcendental(rng: random.Random, i: int) -> Task:
    mp.mp.dps = 40
    digits = 6 if i % 3 else 8
    v = i % 8
    c = mp.mpf
    f: Callable[..., Any]  # the equation as f(x) = 0 (its constants bound as defaults)
    br: tuple[float, float]  # a bracket around its root
    if v == 0:
        a = rng.randint(5, 40) / 10
        text, f, br = f"e^(-{coef(a)}x) = x", lambda s, a=a: mp.exp(-c(str(a)) * s) - s, (0, 1)
    elif v == 1:
        a = rng.randint(10, 40) / 10
        text, f, br = f"cos(x) = {coef(a)}x", lambda s, a=a: mp.cos(s) - c(str(a)) * s, (0, 1)
    elif v == 2:
        a = rng.randint(2, 30)
        text, f, br = f"x ln(x) = {a}", lambda s, a=a: s * mp.log(s) - a, (1, 40)
    elif v == 3:
        a = rng.randint(5, 60)
        text, f, br = f"x^3 + e^x = {a}", lambda s, a=a: s**3 + mp.exp(s) - a, (-5, 5)
    elif v == 4:
        e, m = rng.randint(1, 9) / 10, rng.randint(5, 30) / 10
        text = f"E - {num(e)} sin(E) = {num(m)} (Kepler's equation; solve for E, in radians)"
        f, br = lambda s, e=e, m=m: s - c(str(e)) * mp.sin(s) - c(str(m)), (0, 5)
    elif v == 5:
        a = rng.randint(2, 20)
        text, f, br = f"ln(x) + x = {a}", lambda s, a=a: mp.log(s) + s - a, (0.01, 25)
    elif v == 6:
        a = rng.randint(2, 50)
        text, f, br = f"x e^x = {a}", lambda s, a=a: s * mp.exp(s) - a, (0, 5)
    else:
        a = rng.randint(6, 200)
        text, f, br = f"2^x + 3^x = {a}", lambda s, a=a: 2**s + 3**s - a, (0, 6)
    root = bisect(f, *br)
    q = f"Find the real solution of the equation {text}. {sig(digits)}"
    return task("transc", i, q, root, "number", "transcendental", rel_tol=tol(digits))


# ---------------------------------------------------------------- definite integrals
@distinct
def integrals(rng: random.Random, i: int) -> Task:
    mp.mp.dps = 30
    v = i % 6
    if v == 0:
        k, a = rng.randint(2, 5), rng.randint(1, 4)
        text, f, lo, hi = f"x^{k} e^(-x)", lambda s, k=k: s**k * mp.exp(-s), 0, a
    elif v == 1:
        k = rng.randint(3, 8)
        text, f, lo, hi = f"1/(1 + x^{k})", lambda s, k=k: 1 / (1 + s**k), 0, 1
    elif v == 2:
        k, a = rng.randint(1, 4), rng.randint(1, 3)
        text, f, lo, hi = f"sqrt(1 + {coef(k)}x^3)", lambda s, k=k: mp.sqrt(1 + k * s**3), 0, a
    elif v == 3:
        k, a = rng.randint(1, 4), rng.randint(1, 3)
        text, f, lo, hi = f"e^(-{coef(k)}x^2)", lambda s, k=k: mp.exp(-k * s**2), 0, a
    elif v == 4:
        b, a = rng.randint(2, 5), rng.randint(1, 3)
        text, f, lo, hi = f"x^2 cos({b}x)", lambda s, b=b: s**2 * mp.cos(b * s), 0, a
    else:
        p, b = rng.randint(1, 4), rng.randint(2, 5)
        text, f, lo, hi = (
            ("x" if p == 1 else f"x^{p}") + " ln(x)",
            lambda s, p=p: s**p * mp.log(s),
            1,
            b,
        )
    value = float(mp.quad(f, [lo, hi]))
    q = (
        f"Evaluate the definite integral of {text} with respect to x from x = {lo} to "
        f"x = {hi}. {sig(6)}"
    )
    return task("integral", i, q, value, "number", "integrals", rel_tol=tol(6))


# ---------------------------------------------------------------- ODE initial-value problems
def ode_numeric(rng: random.Random, i: int) -> tuple[str, float]:
    v = i % 4
    y0: float
    if v == 0:
        k, y0, T = rng.randint(1, 4) / 2, rng.randint(0, 4), rng.randint(1, 5)
        text = f"y' = -{coef(k)}y + sin(t), y(0) = {y0}"
        sol = mp.odefun(lambda s, u, k=k: -k * u + mp.sin(s), 0, y0)
        return f"{text}. Find y({T}).", float(sol(T))
    if v == 1:
        y0, T = rng.randint(0, 10) / 10, rng.randint(1, 3)
        sol = mp.odefun(lambda s, u: s - u**2, 0, mp.mpf(str(y0)))
        return f"y' = t - y^2, y(0) = {num(y0)}. Find y({T}).", float(sol(T))
    if v == 2:
        r, K, y0, T = rng.randint(2, 9) / 10, rng.randint(50, 200), rng.randint(1, 20), 5
        sol = mp.odefun(lambda s, u, r=r, K=K: mp.mpf(str(r)) * u * (1 - u / K), 0, y0)
        return f"y' = {num(r)}y(1 - y/{K}), y(0) = {y0}. Find y({T}).", float(sol(T))
    b, c, T = rng.randint(1, 3), rng.randint(2, 10), rng.randint(1, 4)
    sol = mp.odefun(lambda s, u, b=b, c=c: [u[1], -b * u[1] - c * u[0]], 0, [1, 0])
    return f"y'' + {b}y' + {c}y = 0, y(0) = 1, y'(0) = 0. Find y({T}).", float(sol(T)[0])


def ode_symbolic(rng: random.Random, i: int) -> tuple[str, str]:
    f = sp.Function("y")
    a, b, c = rng.randint(1, 5), rng.randint(1, 9), rng.randint(1, 9)
    a = -a if i % 2 else a
    eq = sp.Eq(f(t).diff(t), a * f(t) + b)
    sol = sp.dsolve(eq, f(t), ics={f(0): c}).rhs
    text = f"y' = {coef(a)}y + {b}"
    return f"{text}, y(0) = {c}", str(sp.simplify(sol))


@distinct
def odes(rng: random.Random, i: int) -> Task:
    mp.mp.dps = 20
    if i % 5 == 4:
        text, expr = ode_symbolic(rng, i)
        q = (
            f"Solve the initial-value problem {text}. Give y(t) as an explicit expression "
            "in t, using exp() for the exponential (e.g. 2*exp(3*t) - 1)."
        )
        return task("ode", i, q, expr, "expr", "ode")
    else:
        text, value = ode_numeric(rng, i)
        q = f"Solve the initial-value problem {text} {sig(6)}"
        return task("ode", i, q, value, "number", "ode", rel_tol=tol(6))


# ---------------------------------------------------------------- modular arithmetic
@distinct
def modular(rng: random.Random, i: int) -> Task:
    v = i % 4
    if v == 0:
        a, b, m = rng.randint(100, 99999), rng.randint(1000, 999999), rng.randint(97, 9973)
        q, ans = f"Compute {a}^{b} mod {m}.", pow(a, b, m)
    elif v == 1:
        m = int(sp.prime(rng.randint(50, 1200)))
        a = rng.randint(2, m - 1)
        q = f"Find the multiplicative inverse of {a} modulo {m} (an integer between 1 and {m - 1})."
        ans = pow(a, -1, m)
    elif v == 2:
        mods = rng.sample([5, 7, 9, 11, 13, 16, 17, 19, 23], 3)
        while math.lcm(*mods) != math.prod(mods):
            mods = rng.sample([5, 7, 9, 11, 13, 16, 17, 19, 23], 3)
        rems = [rng.randint(0, m - 1) for m in mods]
        conds = ", ".join(f"x ≡ {r} (mod {m})" for r, m in zip(rems, mods, strict=False))
        q = f"Find the smallest positive integer x such that {conds}."
        ans = int(sp.ntheory.modular.crt(mods, rems)[0]) or math.prod(mods)
    else:
        a, b, c = (rng.randint(2, 99) for _ in range(3))
        e, f = rng.randint(100, 999), rng.randint(100, 999)
        m = 10 ** rng.randint(3, 6)
        q = f"Compute ({a}^{e} + {c}^{f} * {b}) mod {m}."
        ans = (pow(a, e, m) + pow(c, f, m) * b) % m
    return task("mod", i, f"{q} {INT_ONLY}", int(ans), "int", "modular")


# ---------------------------------------------------------------- optimisation
@distinct
def optimisation(rng: random.Random, i: int) -> Task:
    v = i % 5
    if v == 0:
        a, b = rng.randint(2, 12), rng.randint(1, 9)
        f = x**4 - a * x**2 + b * x
        crit = [r for r in sp.Poly(f.diff(x), x).nroots(n=40) if r.is_real]
        value = min(f.subs(x, r) for r in crit)
        q = f"Find the minimum value of f(x) = {pretty(f)} over all real x."
    elif v == 1:
        a, b = rng.randint(2, 5), rng.randint(1, 4)
        f = x**a * sp.exp(-b * x)
        crit = sp.solve(f.diff(x), x)
        value = max(f.subs(x, r) for r in crit if r > 0)
        q = f"Find the maximum value of f(x) = x^{a} e^(-{b}x) for x > 0."
    elif v == 2:
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        f = a * x + b / x
        value = min(f.subs(x, r) for r in sp.solve(f.diff(x), x) if r > 0)
        q = f"Find the minimum value of f(x) = {a}x + {b}/x for x > 0."
    elif v == 3:
        s = rng.randint(6, 40)
        f = x * (s - 2 * x) ** 2
        value = max(f.subs(x, r) for r in sp.solve(f.diff(x), x) if 0 < r < s / 2)
        q = (
            f"An open box is made from a square sheet measuring {s} cm by {s} cm by cutting equal "
            "squares from the four corners and folding up the sides. What is the largest "
            "possible volume of the box, in cubic centimetres?"
        )
    else:
        a, c = rng.randint(1, 6), rng.randint(1, 6)
        b = rng.randint(-1, 1) * rng.randint(0, min(a, c))
        d, e = rng.randint(-10, 10), rng.randint(-10, 10)
        f = a * x**2 + b * x * y + c * y**2 + d * x + e * y
        crit = sp.solve([f.diff(x), f.diff(y)], [x, y], dict=True)[0]
        value = f.subs(crit)
        q = f"Find the minimum value of f(x, y) = {pretty(f)} over all real x and y."
    answer = float(sp.N(value, 30))
    return task("optim", i, f"{q} {sig(6)}", answer, "number", "optimisation", tol(6))


CATEGORIES: list[tuple[Callable[[random.Random, int], list[Task]], int]] = [
    (polynomial_roots, 24),
    (linear_systems, 22),
    (transcendental, 22),
    (integrals, 22),
    (odes, 20),
    (modular, 22),
    (optimisation, 20),
]
