"""Keras imported without the optional integrations it loads eagerly: what the app's first page waits for.

Keras 3 imports, at ``import keras`` and whenever they are installed,
scikit-learn (for its estimator wrappers, which also pull SciPy's
statistics), IPython (for its config editor) and matplotlib's pyplot (for an
image gallery). Each import is guarded: Keras works without them and only
those helpers fail. The app uses none of them, yet they cost its first page
about 1.5 s and tens of MB (README, "The app"). ``import_keras_lean`` hides
them while Keras is first imported and then un-hides them, so an import of
any of them later in the process works as usual.
"""

from __future__ import annotations

import sys

# Top-level packages Keras imports only for optional helpers the app never calls.
KERAS_EXTRAS = ("sklearn", "IPython", "matplotlib")


def import_keras_lean() -> None:
    """Import Keras (and its backend) with ``KERAS_EXTRAS`` hidden; nothing happens if Keras is already imported.

    A ``None`` entry in ``sys.modules`` makes ``import name`` (and of any of
    its submodules) raise ``ImportError``, which is what Keras' guards catch.
    Packages already imported are left alone.
    """
    if "keras" in sys.modules:
        return
    hidden = [name for name in KERAS_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None
    try:
        import keras  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
