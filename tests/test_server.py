"""How ``streamlit run`` serves the entry files: an ``st.App`` whose start loads the model in a thread."""

import ast
import asyncio
import logging
import runpy
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.web.server.app_discovery import discover_asgi_app

from movierec import server

ROOT = Path(__file__).resolve().parent.parent
ENTRY_FILES = {"show_st.py": "autoint", "show_st_plus.py": "autointp"}


@pytest.mark.parametrize(("entry", "name"), list(ENTRY_FILES.items()))
def test_streamlit_finds_each_entry_files_app_and_importing_it_draws_nothing(entry, name, monkeypatch):
    found = discover_asgi_app(ROOT / entry)
    assert found.is_asgi_app and found.app_name == "app"  # so `streamlit run <entry>` serves it with its lifespan
    from streamlit import config

    monkeypatch.setattr(config, "_main_script_path", config._main_script_path)  # st.App sets it: restored after
    drawn, lifespans = [], []
    monkeypatch.setattr(server, "draw_page", drawn.append)
    real_warm_start = server.warm_start
    monkeypatch.setattr(server, "warm_start", lambda model: lifespans.append(model) or real_warm_start(model))
    namespace = runpy.run_path(str(ROOT / entry), run_name=Path(entry).stem)  # as the server imports it
    assert isinstance(namespace["app"], st.App) and lifespans == [name] and not drawn
    runpy.run_path(str(ROOT / entry), run_name="__main__")  # as Streamlit runs it for a visit
    assert drawn == [name]


@pytest.mark.parametrize("entry", list(ENTRY_FILES))
def test_an_entry_file_imports_only_streamlit_and_the_server_and_draws_only_for_a_visit(entry):
    """Importing the entry file is what the server does as it starts: nothing heavy, nothing drawn."""
    tree = ast.parse((ROOT / entry).read_text())
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert imported == {"streamlit", "movierec.server"}
    branch = next(node for node in tree.body if isinstance(node, ast.If))
    assert ast.unparse(branch.test) in ("__name__ == '__main__'", "__name__ == \"__main__\"")
    calls = lambda nodes: {n.func.id for node in nodes for n in ast.walk(node)  # noqa: E731
                           if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}  # fmt: skip
    assert "draw_page" in calls(branch.body) and "draw_page" not in calls(branch.orelse)
    assert not [node for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]


def test_the_streamlit_warning_preloading_silences_is_still_logged_under_that_name():
    """``server.STREAMLIT_CONTEXT_LOGGER`` names Streamlit's "missing ScriptRunContext" logger: an upgrade that
    renames it would bring one warning per cached call back into the server's log."""
    from streamlit.runtime.scriptrunner_utils import script_run_context

    assert script_run_context._LOGGER.name == server.STREAMLIT_CONTEXT_LOGGER


def test_the_lifespan_starts_preloading_and_lets_the_server_answer_at_once(monkeypatch):
    from movierec import app

    release, loaded = threading.Event(), []

    def slow_preload(name):
        release.wait(30)
        loaded.append((name, threading.current_thread().name))
        return True

    monkeypatch.setattr(app, "preload", slow_preload)
    started = [t for t in threading.enumerate() if t.name.startswith(server.THREAD_PREFIX)]

    async def serve():
        async with server.warm_start("autointp")(None):
            return not loaded  # inside the lifespan: the server is up while the model still loads

    assert asyncio.run(serve())
    thread = next(t for t in threading.enumerate() if t.name.startswith(server.THREAD_PREFIX) and t not in started)
    assert thread.daemon  # never keeps a stopping server alive
    release.set()
    thread.join(30)
    assert loaded == [("autointp", f"{server.THREAD_PREFIX}-autointp")]


def test_a_failed_preload_is_logged_and_never_raised(monkeypatch, caplog):
    from movierec import app

    def broken(name):
        raise OSError("disk on fire")

    monkeypatch.setattr(app, "preload", broken)
    monkeypatch.setattr(server.LOG, "propagate", True)  # Streamlit's loggers print to the console only
    with caplog.at_level(logging.WARNING, logger=server.LOG.name):
        server.preload("autoint")  # returns: the visit loads again and shows the error with its fix
    assert "ahead of the first visit failed" in caplog.text and "OSError: disk on fire" in caplog.text
