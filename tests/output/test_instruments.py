"""General MIDI program names for the pickers."""

from __future__ import annotations

from musegen.output.instruments import PROGRAMS, program_names


def test_every_general_midi_program_has_a_name():
    names = program_names()
    assert len(names) == len(PROGRAMS) == 128
    assert names[0] == "0 · Acoustic Grand Piano" and names[40] == "40 · Violin"
    assert all(n.startswith(f"{p} · ") for p, n in enumerate(names))
