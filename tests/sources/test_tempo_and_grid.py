"""Tempo maps and grid fit on ingest: both decoders read the first track's tempo map alike, it crosses the
worker pipe and the cache into every piece, and every file gets the share of its onsets on the grid."""

from __future__ import annotations

import hashlib
import io

import mido
import numpy as np
import pretty_midi
import pytest

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError
from musegen.notes import UNQUANTIZED_BELOW
from musegen.sources import decode
from musegen.sources.cache import cache_key, cache_path
from musegen.sources.decode import MAX_TEMPO_ROWS, decode_notes, pack, unpack
from musegen.sources.ingest import IngestReport, ingest_sources, read_midi_bytes
from musegen.sources.stream import decode_stream
from tests.midi_factory import midi_bytes, scale_midi

DECODERS = ["smf", "symusic"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_CACHE_DIR", str(tmp_path / "cache"))


def _save(*tracks: list) -> bytes:
    buf = io.BytesIO()
    mido.MidiFile(type=1, ticks_per_beat=480, tracks=[mido.MidiTrack(t) for t in tracks]).save(file=buf)
    return buf.getvalue()


def tempo_change_file() -> bytes:
    """120 BPM, 150 at beat 2 (and again at 3: no change), 100 at beat 4; a tempo in the notes' track (which
    pretty_midi, and so musegen, does not read); a quarter note on every beat."""
    tempo = [
        mido.MetaMessage("set_tempo", tempo=500_000, time=0),
        mido.MetaMessage("set_tempo", tempo=400_000, time=960),
        mido.MetaMessage("set_tempo", tempo=400_000, time=480),
        mido.MetaMessage("set_tempo", tempo=600_000, time=480),
    ]
    notes = [mido.MetaMessage("set_tempo", tempo=300_000, time=240)]
    for i in range(6):
        notes += [mido.Message("note_on", note=60 + i, velocity=70, time=0 if i else 240)]
        notes += [mido.Message("note_off", note=60 + i, time=480)]
    return _save(tempo, notes)


@pytest.mark.parametrize("decoder", DECODERS)
def test_both_decoders_return_the_first_tracks_tempo_map_in_beats(decoder):
    notes, tempo, tempo_map = decode_notes(tempo_change_file(), DataConfig(), Limits(), decoder=decoder)
    assert tempo == 120.0
    np.testing.assert_allclose(tempo_map, [[0, 120], [2, 150], [4, 100]], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(notes[:, 0], np.arange(1, 7), atol=1e-9)  # beats: the score's time
    _, _, plain = decode_notes(scale_midi(), DataConfig(), Limits(), decoder=decoder)
    np.testing.assert_array_equal(plain, [[0, 120]])  # one tempo throughout: one row


@pytest.mark.parametrize("decoder", DECODERS)
def test_too_many_tempo_changes_get_a_clear_reason(decoder):
    tempo = [mido.MetaMessage("set_tempo", tempo=400_000 + 1_000 * (i % 2), time=1) for i in range(MAX_TEMPO_ROWS)]
    data = _save(tempo, [mido.Message("note_on", note=60, velocity=70), mido.Message("note_off", note=60, time=480)])
    limits = Limits(max_events_per_file=5_000_000)  # the event limit would refuse it first (a tempo costs 10)
    with pytest.raises(MidiReadError, match=f"100,001 tempo changes, over the limit of {MAX_TEMPO_ROWS:,} per file"):
        decode_notes(data, DataConfig(), limits, decoder=decoder)


def test_the_result_format_carries_the_tempo_map_and_refuses_the_old_one():
    notes, tm = np.array([[0.0, 1.0, 60, 80]]), np.array([[0.0, 120.0], [4.0, 90.0]])
    got, tempo, reason, final, tempo_map = unpack(pack(notes, 120.0, "", tempo_map=tm))
    np.testing.assert_array_equal(got, notes)
    np.testing.assert_array_equal(tempo_map, tm)
    assert (tempo, reason, final) == (120.0, "", True)
    assert unpack(pack(None, 0.0, "no notes."))[2:] == ("no notes.", True, None)
    old = b"MGC1" + pack(notes, 120.0, "", tempo_map=tm)[4:]
    with pytest.raises(ValueError, match="bad magic"):
        unpack(old)
    with pytest.raises(ValueError, match="truncated"):
        unpack(pack(notes, 120.0, "", tempo_map=tm)[:-8])


def test_every_ingest_path_gives_pieces_their_tempo_map(tmp_path):
    data, want = tempo_change_file(), [[0, 120], [2, 150], [4, 100]]
    fresh = ingest_sources([("tempo.mid", data)])
    cached = ingest_sources([("tempo.mid", data)])
    assert cached.results[0].cached and not fresh.results[0].cached
    (tmp_path / "tempo.mid").write_bytes(data)
    streamed = [item.piece for item in decode_stream([("tempo.mid", tmp_path / "tempo.mid")], DataConfig(), Limits())]
    for piece in (fresh.pieces[0], cached.pieces[0], read_midi_bytes(data, "tempo.mid"), streamed[0]):
        np.testing.assert_allclose(piece.tempo_map, want, atol=1e-9)
        assert piece.tempo_at(5.0) == pytest.approx(100.0)
        assert piece.seconds(6.0) == pytest.approx(1.0 + 0.8 + 1.2)  # 2 beats at 120, 2 at 150, 2 at 100


def test_an_old_or_damaged_cache_entry_is_read_again_and_the_key_holds_the_pedal():
    data, cfg, limits = scale_midi(), DataConfig(), Limits.from_env()
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    key = cache_key(digest, cfg, limits)
    assert key != cache_key(digest, DataConfig(sustain_pedal=False), limits)
    path = cache_path(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"MGC1" + bytes(40))  # what an older musegen wrote, or a torn write
    report = ingest_sources([("a.mid", data)])
    assert report.results[0].ok and not report.results[0].cached and report.pieces[0].n_notes == 8
    assert decode.unpack(path.read_bytes())[4] is not None  # rewritten in today's format


# ------------------------------------------------------------------ grid fit


def jittered_midi(seed: int = 0) -> bytes:
    """Sixteenths at 120 BPM (0.125 s) played by hand: each onset 16 to 45 ms off the grid, no tempo map."""
    rng = np.random.default_rng(seed)
    onsets = (np.arange(64) + 2) * 0.125 + rng.choice([-1, 1], 64) * rng.integers(16, 46, 64) / 1000
    return midi_bytes([(s, s + 0.1, 60 + i % 12) for i, s in enumerate(onsets)])


def test_every_file_gets_its_grid_fit_and_the_report_its_median():
    written, played = scale_midi(), jittered_midi()
    report = ingest_sources([("written.mid", written), ("played.mid", played), ("bad.mid", b"nope")])
    fits = {r.name: r.grid_fit for r in report.results}
    assert fits["written.mid"] == 1.0 and fits["played.mid"] < 0.2 and fits["bad.mid"] is None
    assert report.grid_fit == pytest.approx((fits["written.mid"] + fits["played.mid"]) / 2)
    out = report.to_dict()
    assert out["grid_fit"] == pytest.approx(report.grid_fit, abs=1e-4)
    assert [r["grid_fit"] for r in out["results"]] == [fits["written.mid"], fits["played.mid"], None]
    again = ingest_sources([("written.mid", written)])  # a cached result gets it too
    assert again.results[0].cached and again.results[0].grid_fit == 1.0
    assert not again.looks_unquantized and again.timing_advice() == ""


def test_a_played_dataset_looks_unquantized_and_the_advice_says_so():
    report = ingest_sources([(f"played{i}.mid", jittered_midi(i)) for i in range(3)])
    assert report.grid_fit < UNQUANTIZED_BELOW and report.looks_unquantized
    advice = report.timing_advice()
    assert advice.startswith(f"These files look played rather than written: {report.grid_fit:.0%} of onsets")
    assert "performance representation (10 ms time shifts)" in advice and report.to_dict()["looks_unquantized"]
    assert IngestReport().grid_fit is None and not IngestReport().looks_unquantized


def test_a_pedal_file_decodes_alike_and_holds_to_its_last_pedal_event():
    """A pedal pressed and never let up: notes sound to the file's last pedal event (here a half-pedal
    change after the last note's end), not only to the last note's end."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)  # 1 s = 2 beats
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 60, 0.0, 0.25), pretty_midi.Note(80, 64, 0.5, 1.0)]
    piano.control_changes = [pretty_midi.ControlChange(64, 127, 0.0), pretty_midi.ControlChange(64, 90, 2.5)]
    pm.instruments = [piano]
    buf = io.BytesIO()
    pm.write(buf)
    for decoder in DECODERS:
        notes, *_ = decode_notes(buf.getvalue(), DataConfig(), Limits(), decoder=decoder)
        assert notes[:, :3].round(6).tolist() == [[0, 5, 60], [1, 5, 64]]  # held to beat 5, not 2
