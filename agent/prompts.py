"""System prompts and worked examples, tuned on the embedded Qwen2.5-Coder-1.5B.

Measurements: docs/prompt_tuning.md. A small model guesses counts and arithmetic unless it is
told plainly to compute and shown how; the examples are short conversations in the exact format
the loop produces (a ```python block, its ```output, then "Final answer: X"). Text backends send
them as real chat turns (`few_shot_messages`), which a small model follows far better than
examples described inside the system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.parts import CodePart, Message, ResultPart, TextPart

ANSWER_LINE = (
    "Final answer: <the answer alone: a number, a list or a short text, "
    "without units or explanation>"
)

_CODE_EXECUTION_PROMPT = f"""You are a careful problem solver with a Python interpreter.

{{first}}
The block is run and you are shown its output in an ```output block. Variables persist between \
blocks.
- Put the exact text and numbers from the question into the code.
- Letters and words: str.count, len, split. Exact maths: sympy. Numbers: scipy, numpy. \
Dates: datetime. Files: pandas or open().
- Initial-value problems: scipy solve_ivp when a value such as y(2) is asked, its right-hand \
side a plain lambda t, y: ... written with numpy (never a sympy expression), with \
rtol=1e-10, atol=1e-12; sympy \
dsolve(..., ics={{y(0): value}}) only when a formula for y(t) is asked.
- Word problems: one variable per quantity in the question, every quantity used, converted to \
the unit the question asks for.
- Print the result rounded as the question asks.
- If the output shows an error, fix the code and run it again.
When the output gives the answer, reply with one line, copying the value exactly from the output:
{ANSWER_LINE}
"""

CODE_FIRST = (
    "Never work out results in your head: for every count, calculation, equation, date or data "
    "question, first write ONE ```python block that computes the answer and prints it, then stop. "
)
SOLVE_FIRST = (
    "First solve the problem in words, step by step, as you would on paper: what exactly the "
    "question asks for, what each number in it means and how the numbers combine (per item or "
    "per day, more or less than, a fraction of what), working out each step. Then write ONE "
    "```python block that does the same steps, one variable per quantity, and prints the "
    "answer, then stop. "
)
# Without worked examples the 1.5B did text tasks by hand and typed the result into the code.
ON_TEXT = (
    "For text, lists, dates and data, say in words which steps to take and let the code take "
    "them on the exact text from the question: never type into the code a result you worked "
    "out by hand. "
)
CODE_EXECUTION_PROMPT = _CODE_EXECUTION_PROMPT.replace("{first}", CODE_FIRST)
SOLVE_FIRST_PROMPT = _CODE_EXECUTION_PROMPT.replace("{first}", SOLVE_FIRST)
SOLVE_FIRST_ZERO_SHOT_PROMPT = _CODE_EXECUTION_PROMPT.replace("{first}", SOLVE_FIRST + ON_TEXT)


FILES_NOTE = "Files in the current directory (read them with code): "

NO_CODE_PROMPT = f"""You are a careful problem solver. You cannot run code, so do not write any: \
work it out in words, step by step, doing each calculation yourself. Then end with one line:
{ANSWER_LINE}
"""


@dataclass(frozen=True)
class Example:
    question: str
    code: str
    output: str
    answer: str
    plan: str = ""  # the reasoning before the code (the think-first strategy)


# Every output below is what the code prints (tests/local/test_prompts.py runs them).
EXAMPLES = (
    Example(
        'How many times does the letter "s" occur in the word "successes"? '
        "Answer with the integer only.",
        'word = "successes"\nprint(word.count("s"))',
        "4",
        "4",
        'Count the letter "s" in the word with str.count.',
    ),
    Example(
        "Find all real roots of x^3 - 7x + 6 = 0. Give the roots as a comma-separated list.",
        'import sympy as sp\nx = sp.symbols("x")\nprint(sp.solve(x**3 - 7*x + 6, x))',
        "[-3, 1, 2]",
        "-3, 1, 2",
        "The roots of the cubic: sympy solve.",
    ),
    Example(
        "Evaluate the definite integral of e^(-x^2) with respect to x from x = 0 to x = 2. "
        "Give the answer as a decimal number to 6 significant digits.",
        "import numpy as np\nfrom scipy.integrate import quad\n"
        'value, error = quad(lambda x: np.exp(-x**2), 0, 2)\nprint(f"{value:.6g}")',
        "0.882081",
        "0.882081",
        "No closed form, so integrate numerically with scipy quad.",
    ),
    Example(
        "Solve the initial-value problem y' = -3y + cos(t), y(0) = 2. Find y(1.5). "
        "Give the answer as a decimal number to 6 significant digits.",
        "import numpy as np\nfrom scipy.integrate import solve_ivp\n"
        "sol = solve_ivp(lambda t, y: -3*y + np.cos(t), (0, 1.5), [2], rtol=1e-10, atol=1e-12)\n"
        'print(f"{sol.y[0, -1]:.6g}")',
        "0.139856",
        "0.139856",
        "A value y(1.5) of an initial-value problem is asked: solve_ivp with a plain numpy right-hand side.",
    ),
    Example(
        "Solve y'' + 2y' + 5y = 0 with y(0) = 1, y'(0) = 0. Find y(2). "
        "Give the answer as a decimal number to 6 significant digits.",
        "from scipy.integrate import solve_ivp\n"
        "# y'' = -2y' - 5y as a first-order system in u = [y, y']\n"
        "sol = solve_ivp(lambda t, u: [u[1], -2*u[1] - 5*u[0]], (0, 2), [1, 0], "
        "rtol=1e-10, atol=1e-12)\n"
        'print(f"{sol.y[0, -1]:.6g}")',
        "-0.139672",
        "-0.139672",
        "A second-order equation: write it as a first-order system in y and y', then solve_ivp to t = 2.",
    ),
    Example(
        "Find the minimum value of f(x) = x^4 - 5x^2 + 3x over all real x. "
        "Give the answer as a decimal number to 6 significant digits.",
        'import sympy as sp\nx = sp.symbols("x")\nf = x**4 - 5*x**2 + 3*x\n'
        "points = sp.solve(sp.diff(f, x), x)\n"
        "# complex() evaluates a sympy value numerically; keep the real ones\n"
        "values = [complex(f.subs(x, p)) for p in points]\n"
        'print(f"{min(v.real for v in values if abs(v.imag) < 1e-9):.6g}")',
        "-11.2003",
        "-11.2003",
        "The minimum of a quartic: the critical points where f' = 0, then the smallest real value of f there.",
    ),
    Example(
        "Find the minimum value of g(x, y) = 3x^2 + 2xy + 4y^2 - 6x + 8y over all real x and y. "
        "Give the answer as a decimal number to 6 significant digits.",
        'import sympy as sp\nx, y = sp.symbols("x y")\ng = 3*x**2 + 2*x*y + 4*y**2 - 6*x + 8*y\n'
        "# dict=True: a list of solutions, each a dict that g.subs() accepts\n"
        "points = sp.solve([sp.diff(g, x), sp.diff(g, y)], [x, y], dict=True)\n"
        'print(points, [f"{float(g.subs(p)):.6g}" for p in points])',
        "[{x: 16/11, y: -15/11}] ['-9.81818']",
        "-9.81818",
        "The minimum of a quadratic in two variables: both partial derivatives zero, then g at that point.",
    ),
    Example(
        "Find w + y if w + 2x - y + z = -2, 3w - x + 2z = 9, -w + x + 4y - z = 8 and "
        "2w + y - 3z = 4. Answer with the integer only.",
        'import sympy as sp\nw, x, y, z = sp.symbols("w x y z")\n'
        "equations = [sp.Eq(w + 2*x - y + z, -2), sp.Eq(3*w - x + 2*z, 9),\n"
        "             sp.Eq(-w + x + 4*y - z, 8), sp.Eq(2*w + y - 3*z, 4)]\n"
        "sol = sp.solve(equations, [w, x, y, z])\nprint(sol, sol[w] + sol[y])",
        "{w: 2, x: -1, y: 3, z: 1} 5",
        "5",
        "Solve the four equations for w, x, y, z, then compute the asked combination w + y, not only the unknowns.",
    ),
    Example(
        "Compute (123^4567 + 45^678 * 9) mod 1009. Answer with the integer only.",
        "m = 1009\n# pow(base, exponent, m) for each power, then % m of the whole expression\n"
        "print((pow(123, 4567, m) + pow(45, 678, m) * 9) % m)",
        "805",
        "805",
        "Modular powers: pow with a modulus for each power, then the whole sum mod 1009.",
    ),
    Example(
        "Which smallest positive x leaves remainder 2 when divided by 5, 3 when divided by 7 "
        "and 4 when divided by 11? Answer with the integer only.",
        "from sympy.ntheory.modular import crt\n"
        "# crt(moduli, remainders) -> (x, product of moduli)\n"
        "print(crt([5, 7, 11], [2, 3, 4]))",
        "(367, 385)",
        "367",
        "Three remainder conditions: the Chinese remainder theorem.",
    ),
    Example(
        'Convert "Blue sky Over the hills" to camelCase (first word all lowercase).',
        'text = "Blue sky Over the hills"\nwords = text.lower().split()\n'
        'print(words[0] + "".join(w.capitalize() for w in words[1:]))',
        "blueSkyOverTheHills",
        "blueSkyOverTheHills",
        "Lowercase the words, keep the first, capitalize the others, join.",
    ),
    Example(
        "What is the sum of all the integers that appear in this text?\n"
        "Bought 12 eggs and 3 loaves (#41) for 7 friends.\nAnswer with the integer only.",
        'import re\ntext = "Bought 12 eggs and 3 loaves (#41) for 7 friends."\n'
        'numbers = [int(n) for n in re.findall(r"-?\\d+", text)]\nprint(numbers, sum(numbers))',
        "[12, 3, 41, 7] 63",
        "63",
        "Find every integer in the text, including 41, and add them up.",
    ),
    Example(
        "How many days are there from 2021-06-01 to 2022-01-15? Answer with the integer only.",
        "from datetime import date\nprint((date(2022, 1, 15) - date(2021, 6, 1)).days)",
        "228",
        "228",
        "Subtract the two dates.",
    ),
    Example(
        "Sam is 5 years older than Ben. In 3 years, the sum of their ages will be 41. "
        "How old is Ben now? Answer with the integer only.",
        'import sympy as sp\nben = sp.symbols("ben")\nsam = ben + 5\n'
        "print(sp.solve(sp.Eq((sam + 3) + (ben + 3), 41), ben))",
        "[15]",
        "15",
        "Let Ben's age now be b; Sam is b + 5. In 3 years Ben is b + 3 and Sam is b + 8, and "
        "(b + 3) + (b + 8) = 41, so 2b + 11 = 41 and b = 15.",
    ),
    Example(
        "A bakery bakes 40 loaves per hour on weekdays and 25 loaves per hour on Saturdays and "
        "Sundays, baking 6 hours every day. How many loaves does it bake in 3 full weeks? "
        "Answer with the integer only.",
        "per_hour_weekday, per_hour_weekend, hours_per_day, weeks = 40, 25, 6, 3\n"
        "# every week has 5 weekdays and 2 weekend days\n"
        "per_week = (per_hour_weekday * 5 + per_hour_weekend * 2) * hours_per_day\n"
        "print(per_week * weeks)",
        "4500",
        "4500",
        "Asked: loaves in 3 full weeks. A week has 5 weekdays and 2 weekend days. A weekday gives "
        "40 * 6 = 240 loaves, a weekend day 25 * 6 = 150. One week: 5 * 240 + 2 * 150 = 1500 "
        "loaves; 3 weeks: 3 * 1500 = 4500.",
    ),
    Example(
        "A bus travels 30 km at 40 km/h, waits 10 minutes, then travels 50 km at 60 km/h. "
        "How many minutes does the whole trip take? Answer with the integer only.",
        "# hours = km / (km/h); times 60 for minutes; the wait is already in minutes\n"
        "minutes = 30 / 40 * 60 + 10 + 50 / 60 * 60\nprint(round(minutes))",
        "105",
        "105",
        "Asked: the whole trip in minutes. The first leg takes 30 / 40 = 0.75 h = 45 minutes, the "
        "second 50 / 60 h = 50 minutes, and the wait is 10 minutes: 45 + 10 + 50 = 105.",
    ),
    Example(
        "A recipe for 30 muffins uses 450 g of sugar. Mia wants to bake 200 muffins. Sugar is "
        "sold in 1000 g bags. How many bags must she buy? Answer with the integer only.",
        "import math\nsugar = 450 / 30 * 200\nprint(sugar, math.ceil(sugar / 1000))",
        "3000.0 3",
        "3",
        "Asked: whole bags. Sugar per muffin: 450 / 30 = 15 g; 200 muffins need 15 * 200 = 3000 g, "
        "which is 3000 / 1000 = 3 bags, rounded up since she cannot buy part of a bag.",
    ),
)


def few_shot_messages(plans: bool = False, examples: Sequence[Example] = EXAMPLES) -> list[Message]:
    """The worked examples as user/model turns, to put before the real question; with `plans`,
    each answer starts with its solution in words (the solve-first strategy)."""
    messages: list[Message] = []
    for ex in examples:
        messages.append(Message.user(ex.question))
        messages.append(
            Message(
                role="model",
                parts=[
                    *([TextPart(text=ex.plan + "\n\n")] if plans and ex.plan else []),
                    CodePart(code=ex.code),
                    ResultPart(outcome="OUTCOME_OK", output=ex.output + "\n"),
                    TextPart(text=f"Final answer: {ex.answer}"),
                ],
            )
        )
    return messages


def worked_examples(
    code_execution: bool, history: list[Message], plans: bool = False
) -> list[Message]:
    """The few-shot turns to put before `history`: with code execution, and also after the loop
    switched it off at the retry limit. The solve's earlier turns followed the examples; dropping
    them for the last answer changed the conversation and, for the local model, lost the KV cache
    of the examples (the next solve then re-read ~2,800 prompt tokens: +85 s on 2 cores)."""
    ran_code = any(isinstance(p, CodePart) for m in history for p in m.parts)
    return few_shot_messages(plans) if code_execution or ran_code else []


def system_prompt(
    code_execution: bool,
    files: list[str] | None = None,
    extra: str = "",
    code_prompt: str = CODE_EXECUTION_PROMPT,
) -> str:
    prompt = code_prompt if code_execution else NO_CODE_PROMPT
    if files:
        names = ", ".join(files)
        if code_execution:
            prompt += f"\n{FILES_NOTE}{names}\n"
        else:
            prompt += f"\nFiles provided: {names}\n"
    if extra:
        prompt = extra.strip() + "\n\n" + prompt
    return prompt
