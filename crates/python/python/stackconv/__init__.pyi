"""Type stubs of the stackconv package (the native module re-exported)."""

import os
import pathlib
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Tuple, Union, final

from ._errors import Error as Error
from ._errors import InputError as InputError
from ._errors import IoError as IoError
from ._errors import UsageError as UsageError

_Path = Union[str, "os.PathLike[str]"]

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

INPUT_FORMATS: list[str]
"""The input formats' names, for ``read(format=...)``."""
OUTPUT_FORMATS: list[str]
"""The output formats' names, for ``write(format=...)``."""

class TopRow(NamedTuple):
    name: str
    flat: int
    flat_pct: float
    sum_pct: float
    cum: int
    cum_pct: float

def read(
    source: Union[_Path, bytes, bytearray, memoryview],
    *,
    format: Optional[str] = None,
    kallsyms: Optional[_Path] = None,
    symfs: Optional[_Path] = None,
    symbol_dirs: Union[_Path, Sequence[_Path], None] = None,
    perf_map_dir: Optional[_Path] = None,
    no_inline: bool = False,
    no_system_paths: bool = False,
    off_cpu: bool = False,
    lines: bool = True,
    fold: bool = False,
    max_decompressed: Optional[int] = None,
    max_input: Optional[int] = None,
) -> Profile:
    """Read a profile from a file (``"-"``: standard input) or from bytes,
    its format detected from the content (``format`` skips detection: one
    of ``INPUT_FORMATS``). The options are the command line's:
    ``kallsyms``, ``symfs``, ``symbol_dirs`` (``--symbol-dir``, one or
    several), ``perf_map_dir``, ``no_inline``, ``no_system_paths``,
    ``off_cpu`` (show off-CPU time), ``max_decompressed`` and ``max_input``
    (bytes); ``lines=False`` skips source lines (DWARF), ``fold=True``
    folds samples while reading (memory bounded by the distinct stacks; no
    time order). Perf maps kept beside a recording (``X.data.maps``) are
    used when ``perf_map_dir`` is not given. Parsing releases the GIL.

    Raises ``IoError`` (an ``OSError``) for a missing file, ``InputError``
    with ``path`` and ``offset`` or ``line`` for bad input, ``UsageError``
    (a ``ValueError``) for bad options."""

def merge(profiles: Sequence[Profile]) -> Profile:
    """One profile of several, as the command line merges its inputs."""

def diff(
    before: Profile,
    after: Profile,
    *,
    normalize: bool = False,
    per_process: bool = False,
    per_thread: bool = False,
) -> Diff:
    """Align two profiles stack by stack, as ``stackconv diff`` does
    (``normalize`` scales before to the after total)."""

@final
class Profile:
    """A profile: samples, their stacks, threads and value columns."""

    def to_arrow(self, *, labels: Optional[Sequence[Tuple[str, str]]] = None) -> Any:
        """The profile as a pyarrow Table (one row per thread and stack, the
        schema of ``stackconv IN -o OUT.arrow``); needs pyarrow."""

    def filter(
        self,
        *,
        pid: Union[int, Sequence[int], None] = None,
        tid: Union[int, Sequence[int], None] = None,
        comm: Optional[str] = None,
        thread: Optional[str] = None,
        event: Optional[str] = None,
        time: Optional[str] = None,
        no_idle: bool = False,
        only_idle: bool = False,
        idle_frames: Optional[Sequence[str]] = None,
        focus: Optional[str] = None,
        ignore: Optional[str] = None,
        hide: Optional[str] = None,
        show: Optional[str] = None,
        show_from: Optional[str] = None,
        prune_from: Optional[str] = None,
        rename: Union[Mapping[str, str], Sequence[Tuple[str, str]], None] = None,
        collapse_recursion: bool = False,
        no_kernel: bool = False,
        view: Optional[str] = None,
        granularity: Optional[str] = None,
        value: Optional[str] = None,
    ) -> Profile:
        """A new profile: samples kept by ``pid``, ``tid``, ``comm`` and
        ``thread`` (regular expressions), ``event``, ``time``
        (``"10..20"`` seconds), ``no_idle``/``only_idle``/``idle_frames``;
        then stacks rewritten by ``focus``, ``ignore``, ``hide``, ``show``,
        ``show_from``, ``prune_from`` (regular expressions, pprof's
        meanings), ``rename``, ``collapse_recursion``, ``no_kernel``,
        ``view`` (``mixed``, ``python``, ``native``; chosen once, by the
        first filter: the default is the command line's) and
        ``granularity``; ``value`` chooses the shown column. As the command
        line's options of the same names."""

    def top(self, n: Optional[int] = 20) -> list[TopRow]:
        """The ``n`` functions with the most self weight (all when None),
        as ``stackconv top -n N`` lists them."""

    def folded(
        self,
        *,
        per_process: bool = False,
        per_thread: bool = False,
        annotate: bool = False,
        value: Optional[str] = None,
    ) -> str:
        """Folded stacks, as ``inferno-collapse-perf`` writes them."""

    def write(
        self,
        path: _Path,
        format: Optional[str] = None,
        *,
        per_process: bool = False,
        per_thread: bool = False,
        annotate: bool = False,
        value: Optional[str] = None,
        title: Optional[str] = None,
        icicle: bool = False,
        palette: Optional[str] = None,
        min_width: Optional[float] = None,
        force: bool = False,
    ) -> None:
        """Write to ``path`` in ``format`` (one of ``OUTPUT_FORMATS``;
        default: from the extension) through a temporary file renamed into
        place; an input is not overwritten unless ``force``."""

    def total(self, value: Optional[str] = None) -> int:
        """The total weight of the shown column, or of column ``value``."""

    @property
    def value_types(self) -> list[Tuple[str, str]]:
        """The value columns, ``(kind, unit)``."""
    @property
    def value(self) -> Optional[str]:
        """The kind of the shown value column."""
    @property
    def source_format(self) -> str:
        """The input format's name."""
    @property
    def sources(self) -> list[pathlib.Path]:
        """The files read (``pathlib.Path``)."""
    @property
    def view(self) -> Optional[str]:
        """The view chosen by a filter, or None (outputs show the default)."""
    @property
    def losses(self) -> list[Tuple[str, int]]:
        """What was lost or unresolved, ``(what, count)``."""
    @property
    def warnings(self) -> list[str]:
        """The readers' and filters' warnings."""
    @property
    def dropped(self) -> list[int]:
        """Weight dropped by filters, per value column."""
    @property
    def threads(self) -> list[Tuple[Optional[int], Optional[int], str, str]]:
        """``(pid, tid, process name, thread name)`` of each thread."""
    def __len__(self) -> int: ...

@final
class Diff:
    """Two profiles aligned stack by stack."""

    @property
    def rows(self) -> list[Tuple[str, int, int]]:
        """``(folded stack, before, after)``, sorted by stack."""
    @property
    def before_total(self) -> int: ...
    @property
    def after_total(self) -> int: ...
    @property
    def normalized(self) -> bool: ...
    @property
    def value_type(self) -> Tuple[str, str]: ...
    def folded(self) -> str:
        """``stack before after`` lines, as ``inferno-diff-folded``."""
    def write(
        self,
        path: _Path,
        format: Optional[str] = None,
        *,
        title: Optional[str] = None,
        force: bool = False,
    ) -> None:
        """Write ``.svg``, ``.html``, ``.folded`` or ``.pb.gz`` (pprof
        delta), as ``stackconv diff`` does."""
    def __len__(self) -> int: ...
