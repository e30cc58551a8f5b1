"""Command line: ``python -m musegen ingest|corpus|train|evaluate|generate|render|benchmark``.

Each sub-command lives in its own module of this package with two functions:
``add_parser(subparsers)`` and ``run(args) -> int``. Commands are thin: flags in,
one library call, a readable summary (or one JSON object with ``--json``) out.
Domain errors go to stderr with exit code 2; no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

from musegen.errors import ConfigError, MusegenError
from musegen.fileio import json_default

# Sub-command modules, in the order --help lists them. A module that does not exist yet is skipped.
COMMANDS = ("ingest", "corpus", "train", "pretrain", "evaluate", "generate", "render", "benchmark")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m musegen",
        description="Train neural networks on MIDI music and play what they compose.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"musegen.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"musegen.cli.{name}_cmd":
                continue
            raise
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def _import_fluidsynth_quietly() -> None:
    """Import the FluidSynth binding with its stdout chatter sent to stderr.

    pyfluidsynth prints "'fluidsynth' was found at ..." on stdout when the ``CI`` variable is
    set, and pretty_midi imports it, so ``--json`` output would no longer be one JSON object.
    Importing it first, here, with that line dropped, keeps stdout for the command's own output
    and stderr for its messages.
    """
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError, OSError):
        import fluidsynth  # noqa: F401  (optional; musegen.output.audio says what is missing)


def main(argv: Sequence[str] | None = None) -> int:
    _import_fluidsynth_quietly()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MusegenError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(exc), "kind": type(exc).__name__}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (numpy scalars and paths become plain values)."""
    print(json.dumps(obj, indent=2, default=json_default))


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to settings; values are JSON (numbers, lists) or else plain strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE, got {pair!r}.")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
