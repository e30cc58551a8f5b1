"""Ingest: real chorales through MIDI, and every kind of bad file among good ones."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from musegen.config import DataConfig, Limits
from musegen.errors import DatasetError, MidiReadError
from musegen.representations.classic import ClassicTokenizer
from musegen.representations.timed import TimedTokenizer, quantize
from musegen.sources.ingest import ingest_paths, ingest_sources, read_midi_bytes, read_midi_file
from tests.midi_factory import (
    absurd_tick_midi,
    midi_bytes,
    no_notes_midi,
    piece_midi,
    scale_midi,
    type2_midi,
)


def test_chorales_written_to_midi_read_back_identically(chorales):
    timed = TimedTokenizer(4, 32)
    for piece in chorales[:6]:
        back = read_midi_bytes(piece_midi(piece, tempo=90), f"{piece.name}.mid")
        # onsets, durations and pitches (piece_midi writes every note at velocity 90; the corpus has 80)
        assert np.array_equal(quantize(piece, 4, 32)[:, :3], quantize(back, 4, 32)[:, :3]), piece.name
        assert back.tempo == pytest.approx(90, rel=1e-3)
        assert timed.tokenize(back) == timed.tokenize(piece)
        assert ClassicTokenizer().tokenize(back) == ClassicTokenizer().tokenize(piece)


def test_tempo_changes_are_followed_in_beats():
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(0)
    # 120 BPM for 2 beats (1 s), then 60 BPM: beat 3 is at 2 s.
    inst.notes = [pretty_midi.Note(80, 60, 0.0, 0.5), pretty_midi.Note(80, 62, 2.0, 3.0)]
    pm.instruments.append(inst)
    pm._tick_scales.append((pm.time_to_tick(1.0), 60.0 / (60 * pm.resolution)))
    pm._update_tick_to_time(pm.time_to_tick(10.0))
    buf = io.BytesIO()
    pm.write(buf)
    piece = read_midi_bytes(buf.getvalue(), "tempo.mid")
    assert piece.notes[:, 0].tolist() == pytest.approx([0.0, 3.0])
    assert piece.notes[1, 1] == pytest.approx(4.0)


def _bad_inputs(tmp_path) -> dict[str, tuple[bytes, str]]:
    good = scale_midi()
    truncated = good[: len(good) // 2]
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr("../../evil.mid", good)
        zf.writestr("/abs/evil2.mid", good)
        zf.writestr("inside/fine.mid", midi_bytes([(0, 1, 40)]))
        zf.writestr("readme.txt", b"hello")
    return {
        "empty.mid": (b"", "empty file"),
        "random.mid": (os.urandom(2048), "not a MIDI file"),
        "truncated.mid": (truncated, "corrupt or truncated"),
        "drums.mid": (midi_bytes([(0, 0.5, 36), (0.5, 1, 38)], is_drum=True), "drums only"),
        "silent.mid": (no_notes_midi(), "no notes"),
        "type2.mid": (type2_midi(), "type-2"),
        "ticks.mid": (absurd_tick_midi(), "absurd tick"),
        "notes.txt.mid": (b"just some text, not music\n", "text file"),
        "page.mid": (b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
        "archive.zip": (traversal.getvalue(), ""),
    }


def test_bad_files_are_reported_and_good_ones_still_load(tmp_path):
    bad = _bad_inputs(tmp_path)
    good = [("scale.mid", scale_midi()), ("Bärentanz — ノート.mid", midi_bytes([(0, 1, 50), (1, 2, 52)]))]
    dup = ("scale copy.mid", scale_midi())
    sources = [*good, *((n, d) for n, (d, _) in bad.items()), dup]
    report = ingest_sources(sources, DataConfig())
    by_name = {r.name: r for r in report.results}
    for name, (_, reason) in bad.items():
        if name.endswith(".zip"):
            continue
        assert not by_name[name].ok, name
        assert reason.lower() in by_name[name].reason.lower(), (name, by_name[name].reason)
    assert "path traversal" in by_name["archive.zip/../../evil.mid"].reason
    assert "absolute path" in by_name["archive.zip//abs/evil2.mid"].reason
    assert "not a MIDI file" in by_name["archive.zip/readme.txt"].reason
    assert by_name["archive.zip/inside/fine.mid"].ok
    assert by_name["scale copy.mid"].reason == "duplicate of scale.mid"
    assert by_name["scale.mid"].ok and by_name["Bärentanz — ノート.mid"].ok
    assert {p.name for p in report.pieces} == {"scale", "Bärentanz — ノート", "fine"}
    assert report.n_ok == 3 and report.n_skipped == len(sources) + 3 - 3


def test_single_file_raises_domain_error_with_reason(tmp_path):
    path = tmp_path / "drums.mid"
    path.write_bytes(midi_bytes([(0, 0.5, 36)], is_drum=True))
    with pytest.raises(MidiReadError, match="drums only"):
        read_midi_file(path)
    with pytest.raises(MidiReadError, match="cannot read"):
        read_midi_file(tmp_path / "missing.mid")


def test_instrument_filters():
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    for program, pitch in ((0, 60), (40, 70), (73, 80)):  # piano, violin, flute
        inst = pretty_midi.Instrument(program)
        inst.notes = [pretty_midi.Note(80, pitch, 0, 1)]
        pm.instruments.append(inst)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(80, 36, 0, 1)]
    pm.instruments.append(drums)
    buf = io.BytesIO()
    pm.write(buf)
    data = buf.getvalue()
    assert read_midi_bytes(data, "a.mid").notes[:, 2].tolist() == [60, 70, 80]
    assert read_midi_bytes(data, "a.mid", DataConfig(instrument_filter="piano")).notes[:, 2].tolist() == [60]
    flute = DataConfig(instrument_filter="programs", programs=(73,))
    assert read_midi_bytes(data, "a.mid", flute).notes[:, 2].tolist() == [80]
    with pytest.raises(MidiReadError, match="instrument filter"):
        read_midi_bytes(midi_bytes([(0, 1, 60)], program=40), "v.mid", DataConfig(instrument_filter="piano"))


def test_limits_on_size_and_notes():
    many = midi_bytes([(i * 0.01, i * 0.01 + 0.01, 60 + i % 12) for i in range(500)])
    with pytest.raises(MidiReadError, match="over the limit"):
        read_midi_bytes(many, "many.mid", limits=Limits(max_notes_per_file=100))
    with pytest.raises(MidiReadError, match="size limit"):
        read_midi_bytes(b"MThd" + b"\0" * (2 * 1024 * 1024), "big.mid", limits=Limits(max_file_mb=1))


def test_folder_and_zip_paths_and_missing(tmp_path):
    (tmp_path / "songs" / "deeper").mkdir(parents=True)
    (tmp_path / "songs" / "a.mid").write_bytes(scale_midi())
    (tmp_path / "songs" / "deeper" / "b.MIDI").write_bytes(midi_bytes([(0, 1, 45)]))
    (tmp_path / "songs" / "cover.jpg").write_bytes(b"\xff\xd8")
    with zipfile.ZipFile(tmp_path / "pack.zip", "w") as zf:
        zf.writestr("c.mid", midi_bytes([(0, 1, 47)]))
    report = ingest_paths([tmp_path / "songs", tmp_path / "pack.zip", tmp_path / "nope.mid"])
    names = sorted(r.name for r in report.results if r.ok)
    assert names == ["a.mid", "b.MIDI", "pack.zip/c.mid"]
    assert [r.reason for r in report.results if not r.ok] == ["file not found"]


def test_no_usable_file_is_a_clear_dataset_error():
    report = ingest_sources([("x.mid", b"")])
    with pytest.raises(DatasetError, match="No usable MIDI file"):
        report.require_usable()


def test_reingest_hits_the_content_hash_cache(cache_dir):
    sources = [("a.mid", scale_midi()), ("bad.mid", b"garbage")]
    first = ingest_sources(sources)
    assert not any(r.cached for r in first.results)
    second = ingest_sources(sources)
    assert all(r.cached for r in second.results)
    assert np.array_equal(first.pieces[0].notes, second.pieces[0].notes)
    assert second.results[1].reason == first.results[1].reason
    # a different instrument filter is a different cache entry
    third = ingest_sources(sources, DataConfig(instrument_filter="piano"))
    assert not third.results[0].cached


def test_damaged_cache_entry_is_ignored(cache_dir):
    ingest_sources([("a.mid", scale_midi())])
    for f in (cache_dir / "ingest").iterdir():
        f.write_bytes(b"broken")
    again = ingest_sources([("a.mid", scale_midi())])
    assert again.results[0].ok and not again.results[0].cached


def test_builtin_corpus_is_the_default():
    report = ingest_paths([])
    assert report.n_ok >= 350 and report.n_skipped == 0
    assert report.pieces[0].n_notes > 50
