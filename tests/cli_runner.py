"""``python -m musegen ARGS`` run in the test's own process: the same parser, commands, exit codes, stdout and
stderr as the real command, without starting a new interpreter and TensorFlow for every call (the few seconds
each that made the command-line tests the slowest part of the suite).

What only a fresh process shows stays a real subprocess: the ``python -m musegen`` entry point itself, import-time
output (pyfluidsynth's chatter under ``CI``), resource limits, signals and crashes (tests/cli/test_entry.py,
tests/hardening/). An exception that the real command would end in a traceback is turned into the same thing: exit
code 1 and the traceback on stderr, so a test that asserts "no traceback" still sees one.
"""

from __future__ import annotations

import contextlib
import io
import os
import traceback
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Completed:
    """What ``subprocess.run(..., capture_output=True, text=True)`` gives: the fields the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict[str, str] | None, cwd: str | Path | None):
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def run_musegen(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None) -> Completed:
    """``python -m musegen *args`` in this process, with ``env`` (the whole environment, as subprocess takes it)
    and ``cwd`` for the call's duration."""
    from musegen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _environment(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help exits 0, a malformed flag exits 2
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # what the interpreter would print and exit 1 with
            traceback.print_exc()
            code = 1
    return Completed(["python", "-m", "musegen", *args], int(code), out.getvalue(), err.getvalue())
