"""The Dataset and Train pages on expressive piano: dynamics decided from the data, the pedal as a setting,
advice for music played rather than written, and what a run will learn."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from tests import app_helpers as ui

pytestmark = pytest.mark.slow


def _played(seed: int, jitter_s: float = 0.0) -> bytes:
    """A minute of eighth notes at 120 BPM with swelling dynamics and the sustain pedal; ``jitter_s`` moves
    every onset by up to that many seconds (played on a keyboard, no tempo map)."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(0, name="piano")
    for i in range(120):
        start = max(0.0, i * 0.25 + (rng.uniform(-jitter_s, jitter_s) if jitter_s else 0.0))
        vel = int(30 + 80 * (i % 8) / 7)
        inst.notes.append(pretty_midi.Note(vel, 60 + seed + [0, 4, 7, 12, 7, 4, 2, 5][i % 8], start, start + 0.2))
    inst.control_changes = [pretty_midi.ControlChange(64, 127 if k % 2 == 0 else 0, k * 2.0) for k in range(16)]
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def test_dynamics_are_learned_where_the_files_have_them_and_the_pedal_is_a_setting(folders):
    at = ui.upload(ui.app(), [(f"written-{i}.mid", _played(i)) for i in range(3)])
    assert not at.exception and not at.warning
    ds = at.session_state["dataset"]
    assert ds.data.velocity is True and ds.data.sustain_pedal is True  # automatic: these notes have dynamics
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["On the grid"] == "100%" and float(metrics["Velocity spread"]) > 20
    assert "dynamics in 32 velocity levels" in ui.texts(at) and "sustain pedal keeps them sounding" in ui.texts(at)
    held = sum(float(p.notes[:, 1].sum() - p.notes[:, 0].sum()) for p in ds.pieces)
    ui.widget(at.checkbox, "Sustain pedal").uncheck().run()
    dry = at.session_state["dataset"]
    assert dry.data.sustain_pedal is False and "sustain pedal ignored" in ui.texts(at)
    assert sum(float(p.notes[:, 1].sum() - p.notes[:, 0].sum()) for p in dry.pieces) < 0.8 * held
    ui.widget(at.selectbox, "Dynamics").set_value("off").run()
    assert at.session_state["dataset"].data.velocity is False and "no dynamics" in ui.texts(at)
    at.switch_page(ui.TRAIN).run()
    assert not at.exception
    assert any("This run learns" in c.value and "no dynamics" in c.value for c in at.caption)


def test_music_played_without_a_tempo_map_gets_advice(folders):
    at = ui.upload(ui.app(), [(f"played-{i}.mid", _played(i, jitter_s=0.05)) for i in range(3)])
    assert not at.exception
    warning = next(w.value for w in at.warning if "played rather than written" in w.value)
    assert "performance representation" in warning
    on_grid = next(m.value for m in at.metric if m.label == "On the grid")
    assert int(on_grid.rstrip("%")) < 70
