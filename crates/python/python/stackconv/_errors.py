"""The exceptions stackconv raises.

Every one is a :class:`Error` with the file it is about (``path``) and,
for bad input, where in it: ``offset`` (a byte offset: perf.data, pprof),
``line`` (folded, perf script, py-spy raw; with ``column`` for malformed
JSON) or ``json_path`` (``samples[17]``). Attributes that do not apply
are None.
"""

from typing import Optional


class Error(Exception):
    """Reading, processing or writing a profile failed."""

    path: Optional[str] = None
    offset: Optional[int] = None
    line: Optional[int] = None
    column: Optional[int] = None
    json_path: Optional[str] = None


class InputError(Error):
    """The input is not a profile stackconv reads, or is malformed or cut
    short: ``path`` and ``offset`` / ``line`` say where."""


class UsageError(Error, ValueError):
    """An option names nothing in the profile (a value column, an event),
    contradicts another, or an output would overwrite an input; the
    command line exits 2 for these."""


class IoError(Error, OSError):
    """The file system said no: a missing input, an output directory that
    takes no files. ``errno`` and ``filename`` are set as ``OSError``'s."""
