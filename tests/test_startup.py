"""The app imports Keras without the optional extras Keras loads eagerly, and leaves them importable afterwards."""

import subprocess
import sys
import textwrap

# Run in a fresh interpreter: this test process imported Keras (and its extras) long ago.
PROBE = textwrap.dedent(
    """
    import sys
    import movierec.app  # what `streamlit run show_st_plus.py` imports first
    from movierec.startup import KERAS_EXTRAS
    assert "keras" in sys.modules and "tensorflow" in sys.modules
    loaded = [name for name in KERAS_EXTRAS if name in sys.modules]
    assert not loaded, f"imported by the app's startup: {loaded}"
    import keras
    assert float(keras.ops.convert_to_numpy(keras.ops.add(1.0, 2.0))) == 3.0  # Keras itself works
    import IPython, matplotlib.pyplot, sklearn.model_selection  # hidden only while Keras was imported
    print("ok")
    """
)


def test_the_app_imports_keras_without_its_optional_extras_and_they_stay_importable():
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")


def test_an_extra_imported_before_keras_is_left_as_it_was():
    probe = textwrap.dedent(
        """
        import sys
        import matplotlib
        from movierec.startup import import_keras_lean
        import_keras_lean()
        assert sys.modules["matplotlib"] is matplotlib and "keras" in sys.modules
        assert "sklearn" not in sys.modules
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")
