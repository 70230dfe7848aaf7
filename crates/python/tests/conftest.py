"""What the tests share: the repository's testdata, the hermetic perf.data
options (testdata/perf/README.md, "Hermetic options"; the same as
tests/common/mod.rs passes to the command), and the `stackconv` binary the
Python numbers are compared with."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TESTDATA = ROOT / "testdata"
PERF = TESTDATA / "perf"


def perf_options(name):
    """read() keywords that make reading testdata/perf/NAME.data hermetic."""
    return dict(
        symbol_dirs=[PERF / "bin", PERF / "debug"],
        kallsyms=PERF / f"{name}.kallsyms",
        perf_map_dir=PERF / "maps",
        no_system_paths=True,
    )


def perf_args(name):
    """The same options for the command line."""
    return [
        "--symbol-dir", str(PERF / "bin"),
        "--symbol-dir", str(PERF / "debug"),
        "--kallsyms", str(PERF / f"{name}.kallsyms"),
        "--perf-map-dir", str(PERF / "maps"),
        "--no-system-paths",
    ]


@pytest.fixture(scope="session")
def stackconv_bin():
    """The stackconv binary: $STACKCONV_BIN, else the workspace's debug
    build (built here when missing, as `cargo test --workspace` builds it)."""
    explicit = os.environ.get("STACKCONV_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "stackconv"
    if not binary.exists():
        cargo = shutil.which("cargo")
        assert cargo, "the stackconv binary is not built and cargo is not on PATH"
        subprocess.run(
            [cargo, "build", "-q", "-p", "stackconv-cli", "--bin", "stackconv"],
            cwd=ROOT, check=True,
        )
    return str(binary)


TOP_HEADER = re.compile(
    r"Showing top (\d+) of (\d+) functions, (-?\d+) \S* of \S+ \(.*% of (-?\d+) total\)"
)


def cli_top(binary, inputs, *args, n=20, shown=False):
    """`stackconv top -n N INPUTS ARGS`: (total as read, [(name, flat,
    cum)]); with `shown`, also the weight of the rows shown (with every
    row shown: the total after filters), as (total, shown, rows)."""
    out = subprocess.run(
        [binary, "top", "-q", "-n", str(n), *map(str, inputs), *map(str, args)],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    m = TOP_HEADER.match(out[0])
    assert m, out[0]
    rows = []
    for line in out[2:]:
        flat, _flat_pct, _sum_pct, cum, _cum_pct, name = line.split(None, 5)
        rows.append((name, int(flat), int(cum)))
    if shown:
        return int(m.group(4)), int(m.group(3)), rows
    return int(m.group(4)), rows


def cli_output(binary, *args):
    """What the command writes to standard output."""
    return subprocess.run(
        [binary, *map(str, args)], check=True, capture_output=True
    ).stdout
