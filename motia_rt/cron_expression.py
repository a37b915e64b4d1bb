"""Cron expressions read as Motia reads them, computed with croniter.

Motia (node-cron) takes five fields, ``minute hour day month weekday``, or six with the *seconds
first*: ``*/10 * * * * *`` is every ten seconds. croniter reads a sixth field as seconds *last*
(that same text would fire every second of every tenth minute), a seventh as the year, and has
extensions Motia does not (``H``, ``R``, ``L``, ``W``, ``#``, ``?``). So every expression goes
through ``croniter_form``, which moves Motia's seconds to croniter's place and refuses whatever
the two would read differently, with the reason and the fix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from croniter import croniter

__all__ = ["CronExpressionError", "cron_schedule", "croniter_form", "next_fire_time"]

_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_NAMES = {
    "month": {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
    "day of week": {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
}
_PLAIN = re.compile(r"[0-9*,/\-]+")
_WORD = re.compile(r"[A-Za-z]+")
_FORMS = (
    "use five fields 'minute hour day month weekday' (e.g. '*/5 * * * *', every five minutes) "
    "or six with the seconds first (e.g. '*/10 * * * * *', every ten seconds)"
)


class CronExpressionError(ValueError):
    """An expression Motia would refuse or read differently; ``fix`` says what to write instead."""

    def __init__(self, expression: str, problem: str, fix: str = _FORMS) -> None:
        super().__init__(f"{expression!r} {problem}")
        self.expression = expression
        self.problem = problem
        self.fix = fix


def croniter_form(expression: str) -> str:
    """``expression`` as croniter reads it in the same sense: five fields unchanged, a six-field
    one with its leading seconds moved last. ``CronExpressionError`` for any other form."""
    fields = expression.split()
    if len(fields) == 6:
        seconds: str | None = fields[0]
        fields = fields[1:]
        names: tuple[str, ...] = ("second", *_FIELDS)
    elif len(fields) == 5:
        seconds, names = None, _FIELDS
    else:
        extra = " (croniter would read a 7th field as the year; Motia has none)"
        raise CronExpressionError(
            expression,
            f"has {len(fields)} field{'s' if len(fields) != 1 else ''}{extra if len(fields) == 7 else ''}",
        )
    given = [seconds, *fields] if seconds is not None else fields
    for name, field in zip(names, given, strict=True):
        _check_field(expression, name, field)
    if fields[2] != "*" and fields[4] != "*":
        raise CronExpressionError(
            expression,
            "restricts both the day of month and the day of week, which cron implementations "
            "combine differently (classic cron and croniter fire on either day, node-cron only "
            "on days matching both)",
            "restrict one of the two fields and check the other in the handler",
        )
    converted = " ".join([*fields, seconds] if seconds is not None else fields)
    if not croniter.is_valid(converted):
        raise CronExpressionError(
            expression, "is not a valid cron expression (a value out of range?)"
        )
    return converted


def _check_field(expression: str, name: str, field: str) -> None:
    for word in _WORD.findall(field):
        if word.lower() not in _NAMES.get(name, ()):
            raise CronExpressionError(
                expression,
                f"has {word!r} in its {name} field: only numbers, '*', ',', '-', '/' and "
                "three-letter month or weekday names (croniter's H, R, L, W extensions are not "
                "Motia's)",
            )
    if not _PLAIN.fullmatch(_WORD.sub("0", field)):
        raise CronExpressionError(
            expression,
            f"has {field!r} as its {name} field: only numbers, '*', ',', '-', '/' and names "
            "('?' and '#' are not Motia's)",
        )


def cron_schedule(expression: str, start: float) -> croniter:
    """A croniter over ``expression`` (Motia's reading) from ``start`` (epoch seconds, UTC)."""
    return croniter(croniter_form(expression), datetime.fromtimestamp(start, tz=UTC))


def next_fire_time(expression: str, after: float) -> float:
    """The first time strictly after ``after`` (epoch seconds, UTC) that ``expression`` fires."""
    return float(cron_schedule(expression, after).get_next(float))
