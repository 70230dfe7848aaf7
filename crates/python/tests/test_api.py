"""The type stubs describe the module as it is, and the GIL is released
while a profile is read."""

import ast
import importlib.util
import inspect
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import stackconv
from conftest import PERF, perf_options

STUB = Path(stackconv.__file__).with_name("__init__.pyi")


def stub_signatures():
    """name -> parameter names, for the stub's functions and methods
    (`Class.method`), and the stub's classes."""
    tree = ast.parse(STUB.read_text())
    sigs, classes = {}, set()

    def params(f):
        a = f.args
        return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg != "self"]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            sigs[node.name] = params(node)
        elif isinstance(node, ast.ClassDef):
            classes.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.decorator_list:
                    sigs[f"{node.name}.{item.name}"] = params(item)
    return sigs, classes


def test_stubs_match_the_module():
    sigs, classes = stub_signatures()
    assert set(stackconv.__all__) - {"INPUT_FORMATS", "OUTPUT_FORMATS"} <= classes | set(sigs) | {
        "Error", "InputError", "IoError", "UsageError"}
    checked = 0
    for name, stub_params in sigs.items():
        if name.endswith(("__len__", "__repr__")):
            continue
        obj = stackconv
        for part in name.split("."):
            obj = getattr(obj, part)
        runtime = [p for p in inspect.signature(obj).parameters if p != "self"]
        assert runtime == stub_params, name
        checked += 1
    assert checked >= 8
    # Properties: the stub's and the class's.
    for cls in ["Profile", "Diff"]:
        tree = ast.parse(STUB.read_text())
        node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
        props = {i.name for i in node.body if isinstance(i, ast.FunctionDef) and i.decorator_list}
        runtime = {n for n, v in vars(getattr(stackconv, cls)).items() if inspect.isgetsetdescriptor(v)}
        assert props == runtime, cls
    assert STUB.with_name("py.typed").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (.ci/run installs it)"
)
def test_stubtest_finds_the_stubs_true(tmp_path):
    """mypy's stubtest: every name, signature and property of the stubs is
    the module's, and the module has nothing the stubs lack."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "stackconv"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_reading_releases_the_gil():
    """While one thread reads a recording, another runs Python: the
    longest pause between its steps is far shorter than the read."""
    done = threading.Event()
    result = {}

    def reader():
        t = time.monotonic()
        result["profile"] = stackconv.read(PERF / "py-dwarf.data", **perf_options("py-dwarf"))
        result["seconds"] = time.monotonic() - t
        done.set()

    thread = threading.Thread(target=reader)
    thread.start()
    longest, last = 0.0, time.monotonic()
    while not done.is_set():
        now = time.monotonic()
        longest = max(longest, now - last)
        last = now
        time.sleep(0.001)
    thread.join()
    assert result["profile"].total() > 0
    assert result["seconds"] > 0.2, "the read was too quick to tell"
    assert longest < result["seconds"] / 2, (longest, result["seconds"])
