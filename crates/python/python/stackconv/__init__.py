"""stackconv: read CPU profiles (perf.data, pprof, py-spy raw, speedscope,
folded stacks, Chrome .cpuprofile, perf script text), filter them, list
their top functions, and write flame graphs, HTML reports, pprof,
speedscope, Firefox Profiler JSON or folded text.

>>> import stackconv
>>> p = stackconv.read(b"main;work 3\\nmain;idle 1\\n")
>>> p.total()
4
>>> p.top(1)
[TopRow(name='work', flat=3, flat_pct=75.0, sum_pct=75.0, cum=3, cum_pct=75.0)]
>>> print(p.folded(), end="")
main;idle 1
main;work 3
"""

from typing import NamedTuple

from ._errors import Error, InputError, IoError, UsageError
from ._stackconv import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Diff,
    Profile,
    diff,
    merge,
    read,
)


class TopRow(NamedTuple):
    """One function of :meth:`Profile.top`, as ``stackconv top`` lists it
    (``go tool pprof -top``'s columns)."""

    name: str
    """The function."""
    flat: int
    """Self weight: of the samples whose leaf frame is the function."""
    flat_pct: float
    """``flat`` as a percentage of the total as read (before filters)."""
    sum_pct: float
    """The running sum of ``flat_pct`` down to this row."""
    cum: int
    """Cumulative weight: of the samples whose stack holds the function."""
    cum_pct: float
    """``cum`` as a percentage of the total as read."""


__all__ = [
    "Diff",
    "Error",
    "INPUT_FORMATS",
    "InputError",
    "IoError",
    "OUTPUT_FORMATS",
    "Profile",
    "TopRow",
    "UsageError",
    "diff",
    "merge",
    "read",
]
