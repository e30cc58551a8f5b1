"""General MIDI instruments by program number, for pickers: "0 · Acoustic Grand Piano"."""

from __future__ import annotations

from functools import cache

PROGRAMS = range(128)  # General MIDI programs 0-127


@cache
def program_names() -> tuple[str, ...]:
    """The 128 General MIDI programs as "<number> · <instrument>", indexed by program."""
    import pretty_midi

    return tuple(f"{p} · {pretty_midi.program_to_instrument_name(p)}" for p in PROGRAMS)
