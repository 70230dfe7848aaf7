"""Profile.to_arrow(): the columnar table as a pyarrow Table, whose
per-leaf totals are the command's `top` self weights."""

import pytest

from conftest import PERF, cli_top, perf_args
from test_profile import read_perf

pa = pytest.importorskip("pyarrow")


def test_to_arrow_per_leaf_totals_equal_the_command(stackconv_bin):
    p = read_perf("c-fp")
    table = p.to_arrow(labels=[("host", "h1")])
    assert isinstance(table, pa.Table)
    # The shown value column (cpu-clock, nanoseconds) is `cpu_clock_ns`.
    ns = [f.name for f in table.schema if f.name.endswith("_ns")]
    assert ns == ["cpu_clock_ns"], table.schema
    assert sum(table.column("cpu_clock_ns").to_pylist()) == p.total()
    assert sum(table.column("samples").to_pylist()) == p.total("samples")
    assert set(table.column("host").to_pylist()) == {"h1"}
    by_leaf = {}
    for leaf, w in zip(table.column("leaf").to_pylist(), table.column("cpu_clock_ns").to_pylist()):
        by_leaf[leaf] = by_leaf.get(leaf, 0) + w
    _total, rows = cli_top(stackconv_bin, [PERF / "c-fp.data"], *perf_args("c-fp"), n=10)
    assert rows, "the command lists functions"
    for name, flat, _cum in rows:
        assert by_leaf.get(name) == flat, name
    # Stacks are root first, their last frame the leaf.
    first = table.slice(0, 1).to_pylist()[0]
    assert first["stack"][-1]["name"] == first["leaf"]
