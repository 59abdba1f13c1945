"""How ``streamlit run`` serves the entry files: an ``st.App`` whose start loads the model in a thread."""

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
    monkeypatch.setattr(server, "warm_start", lambda model: lifespans.append(model) or server.warm_start)
    namespace = runpy.run_path(str(ROOT / entry), run_name=Path(entry).stem)  # as the server imports it
    assert isinstance(namespace["app"], st.App) and lifespans == [name] and not drawn
    runpy.run_path(str(ROOT / entry), run_name="__main__")  # as Streamlit runs it for a visit
    assert drawn == [name]


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
