"""The symusic decoder gives what the SMF decoder + pretty_midi give: the same notes in beats, tempo and
reasons, on real music and on every odd or hostile file built in code; the few differences are pinned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import symusic  # noqa: F401  (a hard dependency: a broken install fails here, it does not skip)

from musegen.config import DataConfig, Limits
from musegen.errors import ConfigError, MidiReadError
from musegen.sources.decode import decode_notes, decoder_name
from tests.hardening.hostile import (
    END,
    FLOODS,
    NOTE,
    flood_midi,
    four_byte_vlq_midi,
    long_delta_midi,
    long_meta_length_midi,
    long_piece_midi,
)
from tests.midi_factory import (
    absurd_tick_midi,
    midi_bytes,
    no_notes_midi,
    piece_midi,
    raw_midi,
    scale_midi,
    simultaneous_notes_midi,
    tempo_map_only_midi,
    tempo_midi,
    time_signature_every_bar_midi,
    type2_midi,
)

PIANO = Path(__file__).resolve().parents[3] / "shared" / "data" / "piano"
PIANO_FILES = sorted(PIANO.rglob("*.mid")) if PIANO.is_dir() else []


def both(data: bytes, cfg: DataConfig | None = None, limits: Limits | None = None) -> tuple[object, object]:
    """What each decoder makes of ``data``: (notes, tempo, tempo map) or the reason."""
    out = []
    for decoder in ("smf", "symusic"):
        try:
            out.append(decode_notes(data, cfg or DataConfig(), limits or Limits(), decoder=decoder))
        except MidiReadError as exc:
            out.append(str(exc))
    return out[0], out[1]


def assert_same(old: object, new: object) -> None:
    if isinstance(old, str) or isinstance(new, str):
        assert old == new
        return
    assert old[0].shape == new[0].shape
    np.testing.assert_allclose(new[0], old[0], rtol=1e-12, atol=1e-9)  # row for row, in the same order
    assert new[1] == pytest.approx(old[1], rel=1e-12)
    assert old[2].shape == new[2].shape and new[2][0, 0] == 0.0  # the tempo map, row for row
    np.testing.assert_allclose(new[2], old[2], rtol=1e-12, atol=1e-9)
    assert new[2][0, 1] == new[1]


@pytest.mark.skipif(not PIANO_FILES, reason="the real piano files (../shared/data/piano) are absent")
@pytest.mark.parametrize("pedal", [True, False], ids=["pedal", "no-pedal"])
def test_the_110_real_piano_files_decode_note_for_note_alike(pedal):
    assert len(PIANO_FILES) == 110
    total = 0
    for path in PIANO_FILES:
        old, new = both(path.read_bytes(), DataConfig(sustain_pedal=pedal))
        assert_same(old, new)
        total += len(new[0])
    assert total > 150_000


def test_real_music_and_odd_files_decode_alike(chorales):
    files = [piece_midi(p, tempo=70 + 9 * i) for i, p in enumerate(chorales)]
    files += [scale_midi(), scale_midi(program=40), simultaneous_notes_midi(300), tempo_midi(1), tempo_midi(0xFFFFFF)]
    files += [time_signature_every_bar_midi(16), long_piece_midi(100), four_byte_vlq_midi()]
    files += [midi_bytes([(0, 1, 60), (0.5, 1.5, 60), (1, 2, 60)])]
    for length in (1, 2, 4):  # a tempo of another length than 3 bytes: the SMF decoder ignores it, as here
        odd = b"\xff\x51" + bytes([length]) + b"\x07\xa1\x20\x05"[:length]
        files += [raw_midi(b"\x00\xff\x51\x03\x07\xa1\x20" + b"\x60" + odd + NOTE + END)]
    for data in files:
        old, new = both(data)
        assert not isinstance(new, str), new
        assert_same(old, new)


@pytest.mark.parametrize(
    "data",
    [
        b"MThd" + bytes(40),
        no_notes_midi(),
        type2_midi(),
        absurd_tick_midi(),
        tempo_map_only_midi(20),
        midi_bytes([(0, 1, 36)], is_drum=True),
        long_delta_midi(4),
        long_meta_length_midi(),
        long_piece_midi(60),
        raw_midi(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END),  # a tempo of 0
        raw_midi(b"\x00\x90\x3c\xc0\x10\x80\x3c\x00" + END),  # a velocity above 127
        raw_midi(b"\x00\x3c\x40" + NOTE + END),  # a data byte with no status before it
        raw_midi(b"\x00\xf4\x00" + NOTE + END),  # an undefined status byte
        raw_midi(NOTE[:-2]),  # cut in the middle of an event
        raw_midi(b"\x00\x90\x3c\x40\xff\xff\xff\x7f" * 9 + b"\x00\x80\x3c\x00" + END),  # ticks past 2**31
        scale_midi()[:30],  # a truncated track
        scale_midi()[:14],  # no track chunk
    ],
    ids=lambda d: f"{len(d)}B",
)
def test_bad_files_get_the_same_reason(data):
    old, new = both(data, limits=Limits(max_beats_per_file=50))
    assert isinstance(old, str) and old
    assert new == old


def test_the_instrument_filter_and_its_reasons_are_the_same():
    organ = scale_midi(program=19)
    for cfg in (DataConfig(instrument_filter="piano"), DataConfig(instrument_filter="programs", programs=(19,))):
        for data in (organ, scale_midi(), midi_bytes([(0, 1, 36)], is_drum=True)):
            assert_same(*both(data, cfg))


@pytest.mark.parametrize("kind", FLOODS)
def test_floods_get_the_event_limit_reason_from_the_streaming_scan(kind):
    old, new = both(flood_midi(kind, mb=1), limits=Limits(max_events_per_file=100_000))
    assert new == old == "over the limit of 100,000 events per file (every MIDI event counts)."


def test_the_note_and_beat_limits_are_the_same():
    data = simultaneous_notes_midi(300)
    assert both(data, limits=Limits(max_notes_per_file=299)) == ("over the limit of 299 notes per file.",) * 2
    old, new = both(long_piece_midi(60), limits=Limits(max_beats_per_file=50))
    assert new == old and new.startswith("lasts over 50 beats")


def test_the_decoder_is_chosen_by_musegen_decoder(monkeypatch):
    monkeypatch.delenv("MUSEGEN_DECODER", raising=False)
    assert decoder_name() == "symusic"
    monkeypatch.setenv("MUSEGEN_DECODER", "smf")
    assert decoder_name() == "smf"
    monkeypatch.setenv("MUSEGEN_DECODER", "mido")
    with pytest.raises(ConfigError, match="MUSEGEN_DECODER must be one of smf, symusic"):
        decoder_name()


GM_RESET = b"\x00\xf0\x05\x7e\x7f\x09\x01\xf7"  # a sysex event, closed by its own F7
SPARE_OFF = b"\x00\x90\x2f\x5a\x10\x90\x2f\x5a\x10\x80\x2f\x00\x10\x80\x2f\x00"  # on, on, off, off


@pytest.mark.parametrize(
    "track, handed_over",
    [
        (GM_RESET + NOTE + END, False),
        (b"\x00\xff\x51\x03\x07\xf7\x20" + b"\x00\xff\x01\x02\xf0\xf7" + NOTE + END, False),  # in meta data
        (b"\x00\xf7\x03\x01\x02\x03" + NOTE + END, True),  # an F7 escape: symusic reads F7 as one byte
        (b"\x00\xf7\x09" + NOTE + NOTE + END, True),  # ... and the notes in its bytes as notes
        (b"\x00\x90\x3c\x40" + GM_RESET + b"\x83\x60\x3c\x00" + END, True),  # running status after a sysex
        (SPARE_OFF + b"\x00\x90\x2f\x5a\x00\x80\x2f\x00\x10\x80\x2f\x00" + END, True),  # struck, then the off
        (SPARE_OFF + b"\x00\x80\x2f\x00\x00\x90\x2f\x5a\x10\x80\x2f\x00" + END, True),  # the off, then struck
        (b"\x00\x90\x2f\x5a\x10\x80\x2f\x00\x00\x90\x2f\x5a\x10\x80\x2f\x00" + END, False),  # played again
    ],
    ids=["gm-reset", "f0-f7-in-meta", "f7-escape", "f7-over-notes", "sysex-running", "spare-off", "off-first", "again"],
)
def test_what_symusic_would_read_otherwise_goes_to_the_smf_decoder(track, handed_over, caplog):
    """An F7 escape event, a data byte right after a sysex, a key struck at the tick of a note-off that
    pretty_midi finds nothing else sounding at: symusic reads them otherwise (or loses the file's order),
    so the SMF decoder decodes those files; a sysex or F0/F7 bytes in a meta event's data stay symusic's."""
    caplog.set_level("DEBUG", logger="musegen.sources.symusic_decode")
    old, new = both(raw_midi(track))
    assert_same(old, new)
    assert ("symusic left a file to the SMF decoder" in caplog.text) == handed_over


# ------------------------------------------------------------------ the differences, pinned


def test_a_key_struck_twice_before_one_note_off_keeps_only_the_paired_note():
    """pretty_midi ends both notes at the one note-off; symusic pairs first in, first out, and the second
    note-on never meets a note-off of its own."""
    data = raw_midi(b"\x00\x90\x3c\x40\x83\x60\x90\x3c\x50\x83\x60\x80\x3c\x00" + END)  # on 0, on 1, off 2
    (old, *_), (new, *_) = both(data)
    assert old.tolist() == [[0, 2, 60, 64], [1, 2, 60, 80]]
    assert new.tolist() == [[0, 2, 60, 64]]


def test_a_note_across_a_program_change_counts_under_its_first_program():
    """Only the instrument filter sees it: pretty_midi files the note under the program at its note-off."""
    track = b"\x00\xc0\x00\x00\x90\x3c\x40\x83\x60\xc0\x13\x83\x60\x80\x3c\x00" + END  # piano, organ, off
    old, new = both(raw_midi(track), DataConfig(instrument_filter="piano"))
    assert old.startswith("no notes left after the instrument filter")
    assert new[0].tolist() == [[0, 2, 60, 64]]


def test_a_long_piece_keeps_exact_times():
    """The SMF decoder re-times a file past 2,000,000 ticks at fewer ticks per beat; symusic needs not."""
    (old, *_), (new, *_) = both(long_delta_midi(3))  # one note after 2,113,664 ticks at 480 per beat
    assert new[0, :2].tolist() == [2_113_664 / 480, 2_113_664 / 480 + 1]
    assert old[0, :2] == pytest.approx(new[0, :2], abs=0.01) and old[0, 0] != new[0, 0]
    (old, *_), (new, *_) = both(long_piece_midi(12_000, division=960))  # re-timed on whole ticks: alike
    assert np.array_equal(old, new) and new[-1, :2].tolist() == [11_999.0, 11_999.5]


def test_two_notes_of_one_key_at_one_tick_with_a_note_off_there_keep_the_second():
    """pretty_midi's note-off at tick 0 drops both notes struck at tick 0; symusic pairs it with the first."""
    data = raw_midi(b"\x00\x90\x3c\x40\x00\x90\x3c\x50\x00\x80\x3c\x00\x83\x60\x80\x3c\x00" + END)
    old, new = both(data)
    assert old == "no notes (the file holds only tempo, meta or controller events)."
    assert new[0].tolist() == [[0, 1, 60, 80]]
