"""The app's process as a shared server (display only): many sessions' script runs share one Python process.

After every script run Streamlit calls ``keras.backend.clear_session()`` (for apps that build Keras models in
their script): it resets Keras' global state and empties TensorFlow's kernel cache while other sessions are
in the middle of their generation, and forces a full garbage collection under the GIL (about 0.3 s with
TensorFlow loaded; ``runner.postScriptGC = false`` in ``.streamlit/config.toml`` turns off Streamlit's own
second one). The app builds no model in a script run (models load once, cached, in ``pages.common``), so
:func:`keep_tensorflow_state` leaves Keras alone and keeps Streamlit's other clean-up.
:func:`queue_note` tells a session waiting for a generation slot its place in the queue.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import streamlit as st


def _clean_matplotlib_only() -> None:
    """Streamlit's clean-up after a script run, without the Keras session clear."""
    if "matplotlib.pyplot" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["matplotlib.pyplot"].close("all")


def keep_tensorflow_state() -> bool:
    """Stop Streamlit from clearing the Keras session after each script run (once per process); False when this
    Streamlit version has no such clean-up to replace."""
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner, "_clean_problem_modules", None) is None:
        return False
    script_runner._clean_problem_modules = _clean_matplotlib_only
    return True


@contextlib.contextmanager
def queue_note(what: str) -> Iterator[Callable[[int], None]]:
    """An ``on_wait(ahead)`` for the library's slots (``musegen.slots``): a note of this session's place in the
    queue, shown while it waits and gone when the block ends."""
    slot = st.empty()

    def told(ahead: int) -> None:
        others = f"{ahead} other session{'s' * (ahead != 1)}" if ahead else "another session"
        slot.caption(f":material/hourglass_top: {what} waits for {others} on this server to finish first…")

    try:
        yield told
    finally:
        slot.empty()
