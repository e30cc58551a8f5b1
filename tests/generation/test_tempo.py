"""Generated music keeps the seed's tempo: runs record each piece's tempo, seeds carry it, outputs use it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musegen import runs
from musegen.datasets.dataset import build_dataset
from musegen.generation.compose import DEFAULT_TEMPO, Composer
from musegen.notes import Piece, beats_to_seconds, make_notes
from musegen.representations.registry import for_config
from musegen.training.loop import train
from tests.cli_runner import run_musegen
from tests.midi_factory import piece_midi
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow


def _piece(name: str, tempo_map: list[tuple[float, float]] | None, tempo: float, seed: int) -> Piece:
    rng = np.random.default_rng(seed)
    rows = [(b / 2, b / 2 + 0.5, int(rng.integers(55, 75)), 80) for b in range(64)]
    tm = None if tempo_map is None else np.array(tempo_map, dtype=np.float64)
    return Piece(name, make_notes(rows), tempo, tm)


def test_playback_tempo_is_the_mean_tempo_of_the_map():
    rep = for_config(tiny_config().data)
    steady = _piece("steady", None, 90.0, 0)
    assert rep.playback_tempo(steady) == pytest.approx(90.0)
    # 16 beats at 60 BPM (16 s) then 16 at 120 (8 s): 32 beats in 24 s = 80 BPM over the first 32 beats
    ramp = _piece("ramp", [(0.0, 60.0), (16.0, 120.0)], 60.0, 0)
    assert rep.playback_tempo(ramp, 0.0, 32.0) == pytest.approx(80.0)
    assert rep.playback_tempo(ramp, 16.0, 32.0) == pytest.approx(120.0)
    assert ramp.tempo_at(20.0) == 120.0 and ramp.tempo_at(3.0) == 60.0


def test_transposed_copies_of_same_named_pieces_keep_their_own_tempo():
    config = tiny_config("lstm", epochs=1)
    config.data.val_fraction = 0.0
    config.data.transpose = (0, 2)
    pieces = [_piece("same", None, 70.0, 1), _piece("same", None, 140.0, 2)]
    data = build_dataset(pieces, config.data)
    assert len(data.train_tempos) == len(data.train) == 6
    # each copy (+1, +2 of each piece) plays at the tempo of the piece it was moved from, not of its name
    assert data.train_tempos == [70.0, 140.0, 70.0, 140.0, 70.0, 140.0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = tiny_config("lstm", epochs=1)
    config.data.val_fraction = 0.25
    config.data.transpose = (0, 1)
    pieces = [_piece(f"p{i}", [(0.0, 60.0 + 20 * i), (8.0, 60.0 + 20 * i)], 60.0 + 20 * i, i) for i in range(4)]
    data = build_dataset(pieces, config.data)
    assert len(data.train_tempos) == len(data.train) and len(data.val_tempos) == len(data.val)
    path = runs.create_run(tmp_path_factory.mktemp("runs"), config, data.vocab)
    train(config, data, path, evaluate=False)
    return path


def test_a_run_records_each_piece_tempo_and_seeds_keep_it(run_dir):
    tempos = runs.piece_tempos(run_dir)
    names = runs.piece_names(run_dir)
    assert sorted({*tempos["train"], *tempos["val"]}) == [60.0, 80.0, 100.0, 120.0]
    by_name = dict(zip(names["train"] + names["val"], tempos["train"] + tempos["val"], strict=True))
    copies = [n for n in by_name if n.endswith(" (+1)")]
    assert copies and all(by_name[n] == by_name[n.removesuffix(" (+1)")] for n in copies)  # as its piece
    composer = Composer(run_dir)
    for index, (label, _) in enumerate(composer.pieces()):
        seed = composer.seed_from_piece(index, 0, 16)
        assert seed.tempo == by_name[label.split(": ", 1)[1]]
        assert seed.piece.tempo == seed.tempo


def test_an_uploaded_seed_plays_at_its_own_tempo_and_the_midi_keeps_it(run_dir, tmp_path):
    composer = Composer(run_dir)
    seed = composer.seed_from_midi(piece_midi(_piece("upload", None, 72.0, 9), tempo=72.0), "up.mid", 24)
    assert seed.tempo == pytest.approx(72.0, abs=0.05)
    from musegen.config import SamplingConfig

    comp = composer.compose(seed, SamplingConfig(length=12, seed=1))
    assert comp.continuations[0].tempo == seed.tempo
    tempi = comp.midi(0).get_tempo_changes()[1]
    assert tempi[0] == pytest.approx(72.0, abs=0.05)
    assert comp.midi(0, tempo=150.0).get_tempo_changes()[1][0] == pytest.approx(150.0)  # the user still sets it


def test_cli_generate_keeps_the_seed_tempo_unless_told(run_dir, tmp_path):
    def generate(*extra: str) -> dict:
        out = tmp_path / f"out{len(extra)}.mid"
        cmd = ["generate", str(run_dir), "--length", "8", "--out", str(out), "--json"]
        done = run_musegen(*cmd, *extra)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        return summary | {"midi_tempo": pretty_midi.PrettyMIDI(str(out)).get_tempo_changes()[1][0]}

    first = Composer(run_dir).seed_from_piece(0, 0, 64).tempo
    plain = generate("--seed-piece", "0")
    assert plain["tempo"] == first and plain["midi_tempo"] == pytest.approx(first, abs=0.05)
    assert generate("--tempo", "133")["midi_tempo"] == pytest.approx(133.0, abs=0.05)


def test_runs_without_recorded_tempos_play_at_the_old_default(run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    record = json.loads((old / "pieces.json").read_text())
    (old / "pieces.json").write_text(json.dumps({"train": record["train"], "val": record["val"]}))
    assert runs.piece_tempos(old) == {}
    assert Composer(old).seed_from_piece(0, 0, 8).tempo == DEFAULT_TEMPO


# --- the tempo map in the output (issue 33, point 3) ----------------------------------------------------------

SEED_TEMPOS = [(0, 60.0), (2, 90.0), (4, 120.0), (6, 75.0), (40, 200.0)]  # beat, BPM (beat 40: after the seed)
PIANO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "piano"


def _tempo_changes_midi() -> bytes:
    """Eighth notes over 48 beats under SEED_TEMPOS, written with mido (not by musegen)."""
    import mido

    events, at = [], 0
    for beat, bpm in SEED_TEMPOS:
        events.append((beat * 480, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    for i in range(96):
        pitch = 55 + (7 * i) % 20
        events += [(i * 240, mido.Message("note_on", note=pitch, velocity=80)), (i * 240 + 240, None, pitch)]
    track = mido.MidiTrack()
    for tick, *event in sorted(events, key=lambda e: (e[0], e[1] is not None)):
        message = event[0] if event[0] is not None else mido.Message("note_off", note=event[1])
        track.append(message.copy(time=tick - at))
        at = tick
    buf = io.BytesIO()
    mido.MidiFile(ticks_per_beat=480, tracks=[track]).save(file=buf)
    return buf.getvalue()


def _heard(pm: pretty_midi.PrettyMIDI, track: int) -> np.ndarray:
    return np.array(sorted(n.start for n in pm.instruments[track].notes))


def test_the_output_keeps_the_seed_tempo_changes_and_continues_at_its_mean(run_dir):
    from musegen.config import SamplingConfig
    from musegen.output.audio import render

    data = _tempo_changes_midi()
    source = pretty_midi.PrettyMIDI(io.BytesIO(data))
    composer = Composer(run_dir)
    seed = composer.seed_from_midi(data, "tempos.mid", 48)
    assert 6 < seed.end_beats < 40
    comp = composer.compose(seed, SamplingConfig(length=24, seed=2))
    pm = comp.midi(0)
    times, tempi = pm.get_tempo_changes()
    np.testing.assert_allclose(tempi, [60, 90, 120, 75, seed.tempo], rtol=1e-4)  # the seed's, then its mean
    seed_seconds = beats_to_seconds(seed.end_beats, np.array(SEED_TEMPOS, dtype=float))
    assert seed.tempo == pytest.approx(60 * seed.end_beats / seed_seconds, rel=1e-3)  # the seed's mean tempo
    np.testing.assert_allclose(times[:4], source.get_tempo_changes()[0][:4], atol=1e-4)
    # the seed sounds when it did in its file; the continuation goes on at the mean tempo from the seed's end
    heard = _heard(pm, 0)
    np.testing.assert_allclose(heard, [n.start for n in source.instruments[0].notes[: len(heard)]], atol=1e-3)
    beats = np.unique(comp.placed(0).notes[:, 0])  # unisons on one onset are merged in the file
    expected = times[-1] + (beats - seed.end_beats) * 60 / seed.tempo
    np.testing.assert_allclose(np.unique(_heard(pm, 1).round(4)), expected, atol=1e-3)
    result = render(pm, tail_s=0.5)  # audio from the same PrettyMIDI: as long as its notes in seconds
    assert result.seconds == pytest.approx(pm.get_end_time() + 0.5, abs=1e-3)
    assert len(comp.midi(0, tempo=150.0).get_tempo_changes()[0]) == 1  # a tempo the user sets: one tempo
    assert comp.midi(0, include_seed=False).get_tempo_changes()[1] == pytest.approx([seed.tempo], rel=1e-4)


@pytest.mark.skipif(not PIANO.is_dir(), reason="the real piano pieces (../shared/data/piano) are not here")
def test_a_real_piano_seed_keeps_its_tempo_map(run_dir):
    from musegen.config import SamplingConfig

    data = (PIANO / "Chopin" / "chpn-p15.mid").read_bytes()  # 985 tempo changes
    source = pretty_midi.PrettyMIDI(io.BytesIO(data))
    composer = Composer(run_dir)
    seed = composer.seed_from_midi(data, "chpn-p15.mid", 600)
    pm = composer.compose(seed, SamplingConfig(length=4, seed=1)).midi(0)
    changes, _ = source.get_tempo_changes()
    kept = changes[changes < source.get_tempo_changes()[0][0] + float(seed.piece.seconds(seed.end_beats))]
    assert len(pm.get_tempo_changes()[0]) == len(kept) + 1 > 50  # every change in the seed, then its mean
    np.testing.assert_allclose(pm.get_tempo_changes()[0][: len(kept)], kept, atol=2e-3)
    # the seed's notes sound when they did in the file, up to the grid the tokens keep (a sixteenth here)
    onsets = np.sort([n.start for inst in source.instruments for n in inst.notes])
    heard = _heard(pm, 0)
    off = np.abs(onsets[np.clip(np.searchsorted(onsets, heard), 1, len(onsets) - 1)[:, None] - [1, 0]] - heard[:, None])
    assert np.median(off.min(axis=1)) < 0.01 and np.quantile(off.min(axis=1), 0.95) < 0.1
