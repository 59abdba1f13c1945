"""Keras imported without the optional integrations it loads eagerly: what the app's first page waits for.

Keras 3 imports, at ``import keras`` and whenever they are installed,
scikit-learn (for its estimator wrappers, which also pull SciPy's
statistics), IPython (for its weights-file editor, ``KerasFileEditor``) and
matplotlib's pyplot (for ``plot_image_gallery``). Each import is guarded:
Keras works without them and only those helpers fail. The app uses none of
them, yet they cost its first page seconds and about 100 MB (README, "The
app"). ``import_keras_lean`` hides them while Keras is first imported and
then un-hides them, so a later ``import sklearn`` in the process works as
usual; but Keras' own helpers for them stay unavailable in that process
(they saw the package missing). So only the app's server calls it
(``movierec.server``: a visit's page and the thread that preloads the model
as the server starts), never a module others import.
"""

from __future__ import annotations

import sys
import threading

# Top-level packages Keras imports only for optional helpers the app never calls.
KERAS_EXTRAS = ("sklearn", "IPython", "matplotlib")
# One import at a time: another thread calling in meanwhile waits for Keras to be imported in full.
_IMPORTING = threading.Lock()


def import_keras_lean() -> None:
    """Import Keras (and its backend) with ``KERAS_EXTRAS`` hidden; nothing happens if Keras is already imported.

    A ``None`` entry in ``sys.modules`` makes ``import name`` (and of any of
    its submodules) raise ``ImportError``, which is what Keras' guards catch.
    Packages already imported are left alone. Should a Keras or TensorFlow
    release import one of them unguarded, the import is retried as usual:
    slower, never broken. The window is the import itself: in the thread
    that preloads the model as the server starts, or in a visit's page when
    nothing preloaded it. A page's thread calling in meanwhile waits for it to close; another
    of the process's threads importing one of the three in that window would
    see it missing (Streamlit's server has no reason to).
    """
    with _IMPORTING:  # a page's thread waits here for the server's preloading thread (movierec/server.py)
        _import_keras_hiding_extras()


def _import_keras_hiding_extras() -> None:
    if "keras" in sys.modules:
        return
    hidden = [name for name in KERAS_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None
    try:
        import keras
    except ImportError:
        _unhide(hidden)
        import keras  # noqa: F401
    finally:
        _unhide(hidden)


def _unhide(names) -> None:
    for name in names:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]
