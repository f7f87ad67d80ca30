"""Issue 12, round 7: candidate solve strategies, tried here before any goes into agent/.

- `Natural`: solve first, the worked examples' solutions in words written the way the model
  writes when it answers in words (numbered steps, each quantity named with its unit, each
  calculation worked out), instead of terse one-line plans ("Asked: ...") that it copied.
- `NoShots`: solve first without worked examples at all (the system prompt only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent.parts import Message
from agent.prompts import EXAMPLES, Example, few_shot_messages, system_prompt
from agent.strategies.base import Prompt
from agent.strategies.solve_first import SolveFirst

NATURAL = {
    "Sam is 5 years older": (
        "We need Ben's age now.\n\n"
        "1. Let Ben's age now be b. Sam is 5 years older, so Sam's age now is b + 5.\n"
        "2. In 3 years Ben will be b + 3 and Sam will be (b + 5) + 3 = b + 8.\n"
        "3. The sum of their ages then is 41: (b + 3) + (b + 8) = 41, so 2b + 11 = 41.\n"
        "4. Solving: 2b = 30, so b = 15.\n\n"
        "Ben is 15 years old now. The same steps in code:"
    ),
    "A bakery bakes": (
        "We need the number of loaves baked in 3 full weeks.\n\n"
        "1. A weekday: 40 loaves per hour for 6 hours is 40 * 6 = 240 loaves.\n"
        "2. A Saturday or Sunday: 25 loaves per hour for 6 hours is 25 * 6 = 150 loaves.\n"
        "3. One week has 5 weekdays and 2 weekend days: 5 * 240 + 2 * 150 = 1200 + 300 = "
        "1500 loaves.\n"
        "4. Three weeks: 3 * 1500 = 4500 loaves.\n\n"
        "The bakery bakes 4500 loaves. The same steps in code:"
    ),
    "A bus travels": (
        "We need the time of the whole trip, in minutes.\n\n"
        "1. The first leg: 30 km at 40 km/h takes 30 / 40 = 0.75 hours, which is 0.75 * 60 = "
        "45 minutes.\n"
        "2. The wait: 10 minutes.\n"
        "3. The second leg: 50 km at 60 km/h takes 50 / 60 hours, which is 50 / 60 * 60 = "
        "50 minutes.\n"
        "4. The whole trip: 45 + 10 + 50 = 105 minutes.\n\n"
        "The trip takes 105 minutes. The same steps in code:"
    ),
    "A recipe for 30 muffins": (
        "We need the number of whole bags of sugar Mia must buy.\n\n"
        "1. Sugar per muffin: 450 g for 30 muffins is 450 / 30 = 15 g per muffin.\n"
        "2. Sugar for 200 muffins: 200 * 15 = 3000 g.\n"
        "3. Bags: each bag holds 1000 g, so 3000 / 1000 = 3 bags. She cannot buy part of a "
        "bag, so a fraction would be rounded up; here it is exactly 3.\n\n"
        "She must buy 3 bags. The same steps in code:"
    ),
}


def natural_examples() -> tuple[Example, ...]:
    out = []
    for ex in EXAMPLES:
        plan = next((p for start, p in NATURAL.items() if ex.question.startswith(start)), ex.plan)
        out.append(replace(ex, plan=plan))
    return tuple(out)


class Natural(SolveFirst):
    examples = natural_examples()

    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        if not code_execution or files:
            return super().prompt(
                history, code_execution=code_execution, files=files, instruction=instruction
            )
        few = few_shot_messages(True, self.examples)
        system = system_prompt(True, [], instruction, self.code_prompt)
        return Prompt(system, [*few, *history], shared=len(few))


class NoShots(SolveFirst):
    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        system = system_prompt(code_execution, list(files), instruction, self.code_prompt)
        return Prompt(system, list(history))
