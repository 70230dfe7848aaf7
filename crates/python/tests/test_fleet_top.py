"""The PySpark example (examples/fleet_top.py) on 20 copies of a recording,
labelled as 20 hosts, with Spark's local[2] master: its top 10 equals
`stackconv top` of the 20 files merged on one machine. PySpark comes from
pip and Java from Debian's packages (both installed by .ci/run)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PERF, cli_top, perf_args

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet_top.py"


def missing():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (.ci/run installs it from pip)"
    if shutil.which("java") is None:
        return "java is not installed (.ci/run installs openjdk-17-jre-headless)"
    return None


@pytest.mark.skipif(missing() is not None, reason=str(missing()))
def test_fleet_top_on_20_hosts_equals_stackconv_top_of_the_merged_inputs(tmp_path, stackconv_bin):
    # A frame-pointer recording: each copy reads in milliseconds, so the
    # test times Spark, not DWARF unwinding in a debug build.
    name = "c-fp"
    hosts = []
    for i in range(1, 21):
        host = tmp_path / "hosts" / f"host{i:02}"
        host.mkdir(parents=True)
        shutil.copyfile(PERF / f"{name}.data", host / "perf.data")
        hosts.append(host / "perf.data")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path / "hosts" / "*" / "perf.data"),
         "-n", "10", "--master", "local[2]", "--partitions", "4", *perf_args(name)],
        check=True, capture_output=True, text=True, env=env, timeout=600,
    ).stdout.splitlines()
    assert out[0].startswith("20 files; top 10 functions"), out[0]
    ours = []
    for line in out[2:]:
        flat, _flat_pct, cum, _cum_pct, function = line.split(None, 4)
        ours.append((function, int(flat), int(cum)))
    total, reference = cli_top(stackconv_bin, hosts, *perf_args(name), n=10)
    assert ours == reference
    assert f"of {total} " in out[0]
