"""The library inputs of each rule, from its script's imports (hintforce.imports)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hintforce.imports import RUNTIME_MODULES, imported_modules, library_inputs

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "src" / "hintforce"
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


def _package(tmp_path):
    """A toy package ``pkg``: every import style, a subpackage, a runtime module."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "import numpy\n",
        "c.py": "from . import a\n",  # relative: not followed
        "jobs.py": "from pkg import a\n",
        "sub/__init__.py": "",
        "sub/d.py": "import pkg.b\nfrom pkg import jobs\n",
        "e.py": "def f():\n    from pkg.sub import d\n",  # inside a function: still a dependency
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    return pkg


def test_every_import_style_and_the_packages_it_runs(tmp_path):
    pkg = _package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("from pkg.sub.d import x\nfrom pkg import a, c, missing\nimport os\n")
    assert imported_modules(script, pkg) == {"", "sub", "sub.d", "a", "c"}
    assert library_inputs(script, pkg) == sorted(
        str(pkg / f) for f in ("__init__.py", "sub/__init__.py", "sub/d.py", "a.py", "b.py", "c.py")
    )


def test_runtime_modules_and_what_only_they_import_are_left_out(tmp_path):
    pkg = _package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("from pkg import jobs, e\n")
    found = library_inputs(script, pkg)
    assert str(pkg / "jobs.py") not in found and str(pkg / "a.py") not in found
    assert str(pkg / "sub/d.py") in found and str(pkg / "b.py") in found
    assert str(pkg / "a.py") in library_inputs(script, pkg, skip=frozenset())


# Run in one fresh interpreter: the third-party packages are imported once, then each script's
# top-level imports run in a forked child, which reports the hintforce modules it loaded.
_PROBE = """
import ast, json, os, sys
import matplotlib.figure, numpy, pandas, pynwb, scipy.optimize, sklearn.linear_model, zarr
found = {}
for path in sys.argv[1:]:
    tree = ast.parse(open(path).read())
    body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    code = ast.unparse(ast.Module(body, []))
    read, write = os.pipe()
    if os.fork() == 0:
        exec(code, {})
        ours = [m for m in sys.modules if m.split(".")[0] == "hintforce"]
        os.write(write, json.dumps(ours).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found[path] = json.loads(pipe.read() or "null")
    os.wait()
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def loaded():
    """Per script, the hintforce modules Python loads when it runs the script's imports."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _source(module: str) -> str:
    path = LIB.joinpath(*module.split(".")[1:])
    return str(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_a_scripts_inputs_are_the_library_modules_python_loads_for_it(script, loaded):
    runtime = {str(LIB / f"{m}.py") for m in RUNTIME_MODULES}
    modules = loaded[str(script)]
    assert modules, f"{script.name}'s imports failed"
    assert set(library_inputs(script, LIB)) == {_source(m) for m in modules} - runtime
