"""read / filter / top / folded / write / merge on the testdata recordings,
compared with the reference tools' goldens in testdata/ and with the
`stackconv` binary on the same inputs."""

import gzip
from pathlib import Path

import pytest

import stackconv
from conftest import PERF, TESTDATA, cli_output, cli_top, perf_args, perf_options

# Recordings of every shape: frame pointers, DWARF unwinding, Python 3.12
# perf maps, C++, Rust v0, pipe mode, zstd, two events.
RECORDINGS = ["c-fp", "c-dwarf", "py-fp", "py-dwarf", "cpp", "rust-v0", "c-pipe", "c-zstd", "c-2ev"]


def folded_total(text):
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.strip())


def read_perf(name, **extra):
    return stackconv.read(PERF / f"{name}.data", **perf_options(name), **extra)


@pytest.mark.parametrize("name", RECORDINGS)
def test_total_and_top_equal_the_command(name, stackconv_bin):
    p = read_perf(name)
    total, rows = cli_top(stackconv_bin, [PERF / f"{name}.data"], *perf_args(name), n=15)
    assert p.total() == total
    assert [(r.name, r.flat, r.cum) for r in p.top(15)] == rows


@pytest.mark.parametrize("name", ["c-fp", "cpp", "rust-v0", "c-zstd", "py-fp"])
def test_folded_equals_inferno_collapse_perf(name):
    # The golden is inferno-collapse-perf of `perf script`, every frame as
    # perf names it: the mixed view.
    ours = read_perf(name).filter(view="mixed").folded()
    reference = (PERF / f"{name}.folded").read_text()
    assert sorted(ours.splitlines()) == sorted(reference.splitlines())
    assert folded_total(ours) == folded_total(reference)


def test_per_thread_and_annotated_folded_equal_inferno():
    p = read_perf("c-fp").filter(view="mixed")
    for kw, golden in [(dict(per_thread=True), "c-fp.F.tid.folded"), (dict(annotate=True), "c-fp.all.folded")]:
        ours = p.folded(**kw)
        reference = (PERF / golden).read_text()
        assert sorted(ours.splitlines()) == sorted(reference.splitlines()), golden


def test_pyspy_and_pprof_inputs():
    raw = TESTDATA / "pyspy" / "threads.raw"
    p = stackconv.read(raw)
    assert p.source_format == "py-spy raw"
    # py-spy's raw lines are `stack count`: the recording is its own golden.
    assert p.total() == folded_total(raw.read_text())
    pprof = stackconv.read(TESTDATA / "go" / "cpu.pb.gz")
    assert pprof.source_format == "pprof"
    assert ("cpu", "nanoseconds") in pprof.value_types
    assert pprof.total("samples") > 0


def test_pprof_top_equals_the_command(stackconv_bin):
    path = TESTDATA / "go" / "cpu.pb.gz"
    p = stackconv.read(path)
    total, rows = cli_top(stackconv_bin, [path], n=10)
    assert p.total() == total
    assert [(r.name, r.flat, r.cum) for r in p.top(10)] == rows
    total, rows = cli_top(stackconv_bin, [path], "--value", "samples", n=10)
    s = p.filter(value="samples")
    assert s.total() == total == p.total("samples")
    assert [(r.name, r.flat, r.cum) for r in s.top(10)] == rows


def test_read_bytes_equals_read_path():
    path = TESTDATA / "go" / "cpu.pb.gz"
    a = stackconv.read(path)
    b = stackconv.read(path.read_bytes())
    c = stackconv.read(bytearray(path.read_bytes()))
    d = stackconv.read(memoryview(path.read_bytes()))
    assert a.folded() == b.folded() == c.folded() == d.folded()
    with pytest.raises(TypeError, match="takes a path"):
        stackconv.read([1, 2, 3])
    assert b.sources == []


def test_filters_equal_the_command_and_conserve_weight(stackconv_bin):
    name = "py-dwarf"
    path = PERF / f"{name}.data"
    p = read_perf(name)
    whole = p.total()
    tid = p.threads[-1][1]
    for kw, args in [
        (dict(focus="handle"), ["--focus", "handle"]),
        (dict(ignore="fib", no_kernel=True), ["--ignore", "fib", "--no-kernel"]),
        (dict(tid=tid), ["--tid", str(tid)]),
        (dict(view="mixed", hide="^_Py"), ["--view", "mixed", "--hide", "^_Py"]),
        (dict(no_idle=True), ["--no-idle"]),
        (dict(event="sched:sched_switch"), ["--event", "sched:sched_switch"]),
    ]:
        f = p.filter(**kw)
        # Every function: their self weights add up to the total kept.
        input_total, kept, rows = cli_top(stackconv_bin, [path], *perf_args(name), *args, n=100000, shown=True)
        assert [(r.name, r.flat, r.cum) for r in f.top(None)] == rows, kw
        assert f.total() == kept, kw
        if "focus" in kw:
            folded = cli_output(stackconv_bin, path, *perf_args(name), *args, "-q", "-o", "-", "--to", "folded")
            assert f.folded() == folded.decode(), kw
            assert f.total() == folded_total(folded.decode()), kw
        if "event" not in kw:
            assert input_total == whole
            # Conservation: kept + dropped = as read.
            assert f.total() + f.dropped[0] == whole, kw
            assert f.total() < whole or kw.get("view") == "mixed", kw


def test_view_is_chosen_once():
    p = read_perf("py-dwarf")
    assert p.view is None
    py = p.filter(focus=".")
    assert py.view == "python"
    assert any("(webapi.py)" in r.name for r in py.top(5))
    assert py.filter(view="python").view == "python"
    with pytest.raises(stackconv.UsageError, match="already shown in the python view"):
        py.filter(view="mixed")
    mixed = p.filter(view="mixed")
    assert mixed.view == "mixed"
    # Every frame as perf recorded it: the interpreter's own on top.
    assert mixed.top(1)[0].name == "_PyEval_EvalFrameDefault"
    assert "py::fib:" in mixed.folded()
    assert mixed.total() == py.total() == p.total()


def test_off_cpu_and_value_columns(stackconv_bin):
    name = "py-dwarf"
    p = read_perf(name, off_cpu=True)
    assert p.value == "off-cpu"
    total, rows = cli_top(stackconv_bin, [PERF / f"{name}.data"], *perf_args(name), "--off-cpu", n=5)
    assert p.total() == total == p.total("off-cpu")
    assert [(r.name, r.flat, r.cum) for r in p.top(5)] == rows
    with pytest.raises(stackconv.UsageError) as e:
        p.total("no-such-column")
    assert isinstance(e.value, ValueError)
    with pytest.raises(stackconv.UsageError, match="no off-CPU time"):
        stackconv.read(TESTDATA / "go" / "cpu.pb.gz", off_cpu=True)


def test_write_formats_through_the_facade(tmp_path, stackconv_bin):
    name = "c-fp"
    p = read_perf(name)
    for out in ["f.svg", "f.folded", "p.pb.gz", "s.speedscope.json", "r.html", "x.cpuprofile", "ff.json.gz", "c.csv"]:
        p.write(tmp_path / out)
        assert (tmp_path / out).stat().st_size > 0, out
    # What the command writes from the same input, byte for byte.
    cli = cli_output(stackconv_bin, PERF / f"{name}.data", *perf_args(name), "-q", "-o", "-", "--to", "folded")
    assert (tmp_path / "f.folded").read_bytes() == cli
    # Written pprof read back: the same total in every column.
    back = stackconv.read(tmp_path / "p.pb.gz")
    assert back.total("cpu-clock") == p.total() and back.total("samples") == p.total("samples")
    assert gzip.decompress((tmp_path / "p.pb.gz").read_bytes())
    assert "<svg" in (tmp_path / "f.svg").read_text()
    # format= instead of the extension; no temporary file left.
    p.write(tmp_path / "noext", format="folded")
    assert (tmp_path / "noext").read_bytes() == cli
    assert not list(tmp_path.glob(".stackconv-*"))


@pytest.mark.parametrize("name,extra", [("c-fp", []), ("py-dwarf", ["--off-cpu"])])
def test_svg_and_html_equal_the_commands(tmp_path, stackconv_bin, name, extra):
    # The command reads no source lines for these outputs (they show
    # function names); read() does unless told.
    p = read_perf(name, off_cpu=bool(extra), lines=False)
    for fmt in ["svg", "html"]:
        out = tmp_path / f"{name}.{fmt}"
        p.write(out)
        cli = tmp_path / f"cli.{name}.{fmt}"
        # Same input path, so the report's default title is the same.
        cli_output(stackconv_bin, PERF / f"{name}.data", *perf_args(name), *extra, "-q", "-o", cli)
        assert out.read_bytes() == cli.read_bytes(), fmt
    assert (b"Off-CPU Time Flame Graph" in (tmp_path / f"{name}.svg").read_bytes()) == bool(extra)
    assert f"stackconv: {name}.data".encode() in (tmp_path / f"{name}.html").read_bytes()


def test_write_refuses_what_the_command_refuses(tmp_path):
    src = tmp_path / "in.folded"
    src.write_text("main;a 2\nmain;b 1\n")
    p = stackconv.read(src)
    with pytest.raises(stackconv.UsageError, match="is also an input") as e:
        p.write(src, format="folded")
    assert e.value.path == str(src)
    assert src.read_text() == "main;a 2\nmain;b 1\n"
    p.write(src, format="folded", force=True)
    assert src.read_text() == "main;a 2\nmain;b 1\n"
    with pytest.raises(stackconv.UsageError, match="cannot tell the format"):
        p.write(tmp_path / "out.png")
    with pytest.raises(stackconv.UsageError, match="is a directory"):
        p.write(tmp_path, format="svg")
    with pytest.raises(stackconv.IoError) as e:
        p.write(tmp_path / "missing" / "out.svg")
    assert isinstance(e.value, OSError)


def test_merge_equals_the_command_on_several_inputs(stackconv_bin):
    a, b = read_perf("c-fp"), read_perf("c-before")
    m = stackconv.merge([a, b])
    assert m.total() == a.total() + b.total()
    args = perf_args("c-fp")
    total, rows = cli_top(stackconv_bin, [PERF / "c-fp.data", PERF / "c-fp.data"], *args, n=10)
    twice = stackconv.merge([a, a])
    assert twice.total() == total == 2 * a.total()
    assert [(r.name, r.flat, r.cum) for r in twice.top(10)] == rows


def test_repr_len_and_attributes():
    p = read_perf("c-fp")
    assert len(p) > 0
    assert repr(p).startswith("<stackconv.Profile ") and "perf.data" in repr(p)
    assert p.value_types[0] == ("cpu-clock", "nanoseconds")
    assert p.value == "cpu-clock"
    assert [Path(s) for s in p.sources] == [PERF / "c-fp.data"]
    assert p.dropped == [0] * len(p.value_types)
    assert all(len(t) == 4 for t in p.threads)
    assert "folded" in stackconv.INPUT_FORMATS and "svg" in stackconv.OUTPUT_FORMATS
    assert stackconv.read(b"a;b 1\n", format="folded").total() == 1
    with pytest.raises(stackconv.UsageError, match="unknown input format"):
        stackconv.read(b"a;b 1\n", format="nope")


def test_package_docstring_example_runs():
    import doctest

    result = doctest.testmod(stackconv)
    assert result.attempted > 0 and result.failed == 0
