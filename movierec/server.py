"""What ``streamlit run`` serves: the page, with its model loading from the moment the server starts.

Streamlit runs a page's script only when a browser connects, so a plain
page starts importing TensorFlow, loading the model and tracing its scorer
after the browser has started and loaded Streamlit's own scripts: one after
the other, seconds each. An entry file that defines an ``st.App`` is served
by Streamlit's ASGI server instead, and the app's ``lifespan`` runs as the
server starts. ``warm_start`` is that lifespan: it starts a thread that does
a first visit's loading (``movierec.app.preload``) and lets the server
answer at once, so the two waits overlap. The visitor's page calls the same
cached loaders, which wait for a load under way rather than start a second
one; a load that fails in the thread is not cached, so the page loads again
and shows the failure the usual way, with the command that fixes it.

Each entry file assigns its ``st.App`` itself, because Streamlit finds it
by reading the file (not running it); the server then imports the file
under its own name, while a visit runs it as ``__main__``, which is how
the file tells the two apart. Everything else lives here. This
module imports nothing heavy: the entry files import it while the server
starts, before the thread exists.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from streamlit.logger import get_logger

LOG = get_logger(__name__)  # Streamlit's console format and level (``--logger.level``), like the server's own lines
THREAD_PREFIX = "movierec-preload"
# Streamlit warns once per cached call made outside a page's run ("missing ScriptRunContext"): expected here.
STREAMLIT_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


def _not_from_preload(record: logging.LogRecord) -> bool:
    return not record.threadName.startswith(THREAD_PREFIX)


def draw_page(name: str) -> None:
    """A visit to the page of model ``name``: Keras imported first and lean, then the page drawn."""
    from movierec.startup import import_keras_lean

    import_keras_lean()  # first: Keras' optional extras would cost the first page seconds (movierec/startup.py)
    from movierec.app import page

    page(name)


def preload(name: str) -> None:
    """Load model ``name`` for a first visit (``movierec.app.preload``); a failure is logged, never raised."""
    context_log = logging.getLogger(STREAMLIT_CONTEXT_LOGGER)
    context_log.addFilter(_not_from_preload)
    started = time.monotonic()
    try:
        from movierec.startup import import_keras_lean

        import_keras_lean()
        from movierec.app import preload as load_for_a_visit

        if load_for_a_visit(name):
            LOG.info("%s loaded ahead of the first visit in %.1f s", name, time.monotonic() - started)
        else:
            LOG.info("MovieLens is not on this machine yet: the first visit downloads it, then loads %s", name)
    except Exception as err:  # the visitor's page loads again and shows what went wrong, with its fix
        LOG.warning("loading the %s model ahead of the first visit failed (the visit will retry): %s: %s",
                    name, type(err).__name__, err)  # fmt: skip
        LOG.debug("the failed preload's traceback", exc_info=True)  # shown with --logger.level=debug
    finally:
        context_log.removeFilter(_not_from_preload)


def preload_in_background(name: str) -> threading.Thread:
    """Start ``preload(name)`` in a daemon thread (it never holds the server up); returns the thread."""
    thread = threading.Thread(target=preload, args=(name,), name=f"{THREAD_PREFIX}-{name}", daemon=True)
    thread.start()
    return thread


def warm_start(name: str) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """An ``st.App`` lifespan: start preloading model ``name`` as the server starts, then serve."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        preload_in_background(name)
        yield None

    return lifespan
