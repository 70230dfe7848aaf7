"""Bad input raises a stackconv.Error naming the file and where in it, as
the command's message does."""

import errno
import subprocess

import pytest

import stackconv
from conftest import PERF, TESTDATA


def test_missing_file_is_an_oserror_with_the_path(tmp_path):
    missing = tmp_path / "nope.data"
    with pytest.raises(stackconv.IoError) as e:
        stackconv.read(missing)
    assert isinstance(e.value, OSError) and isinstance(e.value, stackconv.Error)
    assert e.value.errno == errno.ENOENT
    assert e.value.path == e.value.filename == str(missing)
    assert e.value.offset is None and e.value.line is None


def truncated(tmp_path, src, n):
    cut = tmp_path / ("cut-" + src.name)
    cut.write_bytes(src.read_bytes()[:n])
    return cut


def test_truncated_perf_data_names_file_and_offset(tmp_path, stackconv_bin):
    cut = truncated(tmp_path, PERF / "c-fp.data", 5000)
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(cut)
    assert e.value.path == str(cut)
    assert e.value.offset is not None and 0 < e.value.offset <= 5000
    # The command says the same, at the same offset.
    cli = subprocess.run([stackconv_bin, "info", str(cut)], capture_output=True, text=True)
    assert cli.returncode == 1
    assert str(e.value) in cli.stderr
    assert f"byte {e.value.offset}" in str(e.value)


def test_truncated_pprof_names_its_offset(tmp_path):
    cut = truncated(tmp_path, TESTDATA / "go" / "cpu.pb.gz", 300)
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(cut)
    assert e.value.path == str(cut)
    assert str(cut) in str(e.value)


def test_malformed_folded_names_the_line(tmp_path):
    bad = tmp_path / "bad.folded"
    bad.write_text("main;a 1\nmain;b 2\nmain;c x\n")
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(bad)
    assert (e.value.path, e.value.line, e.value.offset) == (str(bad), 3, None)
    assert "line 3" in str(e.value)


def test_bytes_errors_have_an_offset_and_no_path():
    data = (PERF / "c-fp.data").read_bytes()[:4096]
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(data)
    assert e.value.path is None and e.value.offset is not None
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(b"")
    assert e.value.offset == 0
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(b"\x00\x01\x02binary")
    assert e.value.offset == 0


def test_malformed_json_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"$schema": "https://www.speedscope.app/file-format-schema.json",\n "shared": [}')
    with pytest.raises(stackconv.InputError) as e:
        stackconv.read(bad)
    assert e.value.path == str(bad)
    assert e.value.line == 2 and e.value.column is not None


def test_bad_options_are_usage_errors():
    p = stackconv.read(b"main;a 1\n")
    for kw in [dict(focus="("), dict(view="sideways"), dict(time="x..y"), dict(granularity="atom")]:
        with pytest.raises(stackconv.UsageError):
            p.filter(**kw)
    with pytest.raises(TypeError):
        stackconv.read(42)
