"""stackconv.diff equals inferno-diff-folded (the goldens in testdata/perf)
and writes what `stackconv diff` writes."""

import pytest

import stackconv
from conftest import PERF, cli_output, perf_args, perf_options


@pytest.mark.parametrize("normalize,golden", [(False, "c-diff.folded"), (True, "c-diff.norm.folded")])
def test_diff_of_folded_equals_inferno_diff_folded(normalize, golden):
    before = stackconv.read(PERF / "c-before.folded")
    after = stackconv.read(PERF / "c-after.folded")
    d = stackconv.diff(before, after, normalize=normalize)
    reference = (PERF / golden).read_text()
    assert sorted(d.folded().splitlines()) == sorted(reference.splitlines())
    assert d.normalized == normalize
    assert d.after_total == after.total() and d.before_total == before.total()
    assert len(d) == len(d.rows) == len(reference.splitlines())


def test_diff_of_recordings_equals_the_command(tmp_path, stackconv_bin):
    before = stackconv.read(PERF / "c-before.data", **perf_options("c-before"))
    after = stackconv.read(PERF / "c-after.data", **perf_options("c-after"))
    d = stackconv.diff(before, after)
    # The command takes one set of symbol options for both sides: the
    # same binaries; kallsyms of the before recording names both kernels'
    # frames the same way only if they agree, so compare on user frames.
    cli = cli_output(
        stackconv_bin, "diff", PERF / "c-before.data", PERF / "c-after.data",
        *perf_args("c-before"), "--no-kernel", "-q", "-o", "-", "--to", "folded",
    ).decode()
    nk = stackconv.diff(
        stackconv.read(PERF / "c-before.data", **perf_options("c-before")).filter(no_kernel=True),
        stackconv.read(PERF / "c-after.data", **perf_options("c-before")).filter(no_kernel=True),
    )
    assert nk.folded() == cli
    assert sum(r[2] for r in d.rows) == after.total()
    assert sum(r[1] for r in d.rows) == before.total()
    for out in ["d.svg", "d.html", "d.folded", "d.pb.gz"]:
        d.write(tmp_path / out)
        assert (tmp_path / out).stat().st_size > 0
    assert (tmp_path / "d.folded").read_text() == d.folded()
    delta = stackconv.read(tmp_path / "d.pb.gz")
    assert delta.total() == after.total() - before.total()
    with pytest.raises(stackconv.UsageError, match="diff writes"):
        d.write(tmp_path / "d.speedscope.json")
