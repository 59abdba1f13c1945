"""The app imports Keras without the optional extras Keras loads eagerly, and leaves them importable afterwards."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(code: str, *paths: Path) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (this test process imported Keras and its extras long ago)."""
    prefix = "import sys\n" + "".join(f"sys.path.insert(0, {str(path)!r})\n" for path in paths)
    return subprocess.run([sys.executable, "-c", prefix + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)  # fmt: skip


def test_the_app_starts_with_keras_but_without_its_optional_extras_and_they_stay_importable():
    run = run_fresh(
        """
        from movierec.startup import KERAS_EXTRAS, import_keras_lean
        import_keras_lean()  # what a visit and the server's preloading thread do first
        import movierec.app
        assert "keras" in sys.modules and "tensorflow" in sys.modules
        loaded = [name for name in KERAS_EXTRAS if name in sys.modules]
        assert not loaded, f"imported by the app's startup: {loaded}"
        assert "altair" not in sys.modules  # charts are drawn on request: their library is imported then
        import keras
        assert float(keras.ops.convert_to_numpy(keras.ops.add(1.0, 2.0))) == 3.0  # Keras itself works
        import importlib, importlib.util
        for name in KERAS_EXTRAS:  # hidden only while Keras was imported: those installed import again
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        print("ok")
        """
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")


def test_an_extra_imported_before_keras_is_left_as_it_was():
    run = run_fresh(
        """
        import matplotlib
        from movierec.startup import import_keras_lean
        import_keras_lean()
        assert sys.modules["matplotlib"] is matplotlib and "keras" in sys.modules
        assert "sklearn" not in sys.modules
        print("ok")
        """
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")


def test_a_keras_that_needs_an_extra_unguarded_is_imported_as_usual(tmp_path):
    fake = tmp_path / "keras"
    fake.mkdir()
    (fake / "__init__.py").write_text("import sklearn  # unguarded, as a future release might\n")
    run = run_fresh(
        """
        from movierec.startup import import_keras_lean
        import_keras_lean()
        import keras
        assert keras.__file__.startswith(sys.path[0]) and sys.modules["sklearn"] is not None
        print("ok")
        """,
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")


@pytest.mark.parametrize("function", ["draw_page", "preload"])
def test_a_visit_and_the_preloading_thread_import_keras_lean_before_the_app(function):
    """Both entry files draw a visit through ``movierec.server.draw_page`` and preload through ``preload``:
    each imports Keras lean before anything of the app's, whichever thread comes first."""
    tree = ast.parse((ROOT / "movierec" / "server.py").read_text())
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    nodes = sorted(ast.walk(body), key=lambda node: (getattr(node, "lineno", 0), getattr(node, "col_offset", 0)))
    calls = [node.lineno for node in nodes
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_keras_lean"]  # fmt: skip
    app_imports = [node.lineno for node in nodes
                   if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("movierec.app")]  # fmt: skip
    assert calls and app_imports and calls[0] < app_imports[0]
    for entry in ("show_st.py", "show_st_plus.py"):
        assert "draw_page(" in (ROOT / entry).read_text()
