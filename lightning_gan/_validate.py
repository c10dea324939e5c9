"""Argument checks, one of each kind, so a bad value reads the same wherever it was given.

Every message quotes the call's argument and says what was expected:
``SampleGrid(every_n_steps=True): expected an int >= 1``. The value may have come from Python, a
YAML recipe or the command line; the message is the same. A ``bool`` is never an int here (Python
counts ``True`` as 1, which would make ``d_steps=True`` one D step). Every check raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

__all__ = ["check", "check_choice", "check_flag", "check_int", "check_number"]


def check(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


def _quote(owner: str | None, name: str, value: Any) -> str:
    """``Owner(name=value)``, or ``name=value`` without an owner."""
    return f"{owner}({name}={value!r})" if owner else f"{name}={value!r}"


def check_int(name: str, value: Any, minimum: int, *, owner: str | None = None, optional: bool = False) -> None:
    """``value`` is an int (not a bool) ``>= minimum``, or ``None`` when ``optional``."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = f"{'None or ' if optional else ''}an int >= {minimum}"
        raise ValueError(f"{_quote(owner, name, value)}: expected {expected}")


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    owner: str | None = None,
    optional: bool = False,
) -> None:
    """``value`` is a real number (not a bool) in the range given (``low < value`` when ``low_open``),
    or ``None`` when ``optional``."""
    if optional and value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    above = low is None or (number and (value > low if low_open else value >= low))
    below = high is None or (number and (value < high if high_open else value <= high))
    if not (number and not math.isnan(value) and above and below):
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        expected = f"{'None or ' if optional else ''}a number{' ' + ' and '.join(bounds) if bounds else ''}"
        raise ValueError(f"{_quote(owner, name, value)}: expected {expected}")


def check_choice(name: str, value: Any, choices: Collection[Any], *, owner: str | None = None) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{_quote(owner, name, value)}: expected one of {list(choices)}")


def check_flag(name: str, value: Any, *, owner: str | None = None) -> None:
    """``value`` is ``True`` or ``False`` (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{_quote(owner, name, value)}: expected True or False")  # noqa: TRY004 - one type for bad values
