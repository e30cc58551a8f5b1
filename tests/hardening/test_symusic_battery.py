"""symusic (C++) decodes in the worker: a native crash there is one file's reason and the batch goes on;
on 1,000 damaged real files it refuses what the SMF decoder refuses, with the same words, and keeps the
same notes (but the pinned differences of ``tests/sources/test_symusic_decode.py``)."""

from __future__ import annotations

import random
import re
import time

import numpy as np
import pytest
import symusic  # noqa: F401  (a hard dependency: a broken install fails here, it does not skip)

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError
from musegen.sources import sandbox
from musegen.sources.decode import decode_notes
from musegen.sources.ingest import ingest_sources
from musegen.sources.sandbox import DecodePool
from musegen.sources.smf_decode import scan_smf
from tests.hardening.hostile import END, NOTE
from tests.hardening.test_mutation_fuzz import NOT_A_FILE_REASON, SEED, _mutate, _seeds
from tests.midi_factory import raw_midi, scale_midi

MUTANTS = 1000
MARK = b"musegen-native-crash-test"
SYSTEM_MESSAGE = re.compile(r"unexpected status byte 0xF[12368ABCE] ")  # defined; symusic skips them
LENIENT = re.compile(rf"above 127|{SYSTEM_MESSAGE.pattern}")


def _retire_idle_workers() -> None:
    """Stop the idle shared workers, so the next ones start with this test's environment."""
    shared = sandbox._SHARED
    with shared._lock:
        idle, shared._idle = shared._idle, []
        shared._count -= len(idle)
    for worker in idle:
        worker.stop()


def test_a_native_crash_in_the_worker_is_that_files_reason_and_the_batch_goes_on(monkeypatch):
    monkeypatch.setenv("MUSEGEN_DECODER", "symusic")
    monkeypatch.setenv("MUSEGEN_TEST_NATIVE_CRASH", MARK.decode())
    _retire_idle_workers()
    try:
        crash = raw_midi(b"\x00\xff\x01" + bytes([len(MARK)]) + MARK + NOTE + END)  # a text event holds the mark
        files = [("a.mid", scale_midi()), ("crash.mid", crash), ("b.mid", scale_midi(program=3))]
        report = ingest_sources(files, use_cache=False)
        a, crashed, b = report.results
        assert crashed.reason == "crashed the decoder (SIGSEGV); the file is likely corrupt."
        assert a.ok and b.ok and a.n_notes == b.n_notes == 8  # a fresh worker took over
        assert decode_notes(crash, DataConfig(), Limits())[0].tolist() == [[0, 1, 60, 64]]  # only workers crash
    finally:
        monkeypatch.delenv("MUSEGEN_TEST_NATIVE_CRASH")
        _retire_idle_workers()


def _decode_all(mutants: list[bytes], decoder: str, monkeypatch) -> list[sandbox.Decoded]:
    monkeypatch.setenv("MUSEGEN_DECODER", decoder)
    with DecodePool(DataConfig(), Limits(max_decode_seconds=10)) as pool:
        return [result for _, result in pool.map(list(enumerate(mutants)))]


def _retimed_tick(data: bytes) -> float:
    """The SMF decoder's tick in beats where it re-times a file past 2,000,000 ticks at fewer ticks per beat
    (the pinned difference of ``test_a_long_piece_keeps_exact_times``: its times move by less than one); 0
    for other files."""
    try:
        scaled = scan_smf(data, Limits()).ticks_per_beat
    except MidiReadError:
        return 0.0
    return 0.0 if scaled == int.from_bytes(data[12:14], "big") else 1.0 / scaled


def _tempo_rows_within(old: np.ndarray, new: np.ndarray, tick: float) -> bool:
    """Whether each of ``old``'s tempo rows is one of ``new``'s: its BPM at a beat within ``tick``."""
    for beat, bpm in old.tolist():
        near = new[np.abs(new[:, 0] - beat) <= tick + 1e-9]
        if not np.isclose(near[:, 1], bpm, rtol=1e-12).any():
            return False
    return True


def _unmatched(new: np.ndarray, old: np.ndarray, tol: float, ends: bool) -> int:
    """How many of ``new``'s notes find none of ``old``'s, each used once: the same pitch and velocity,
    the onset (and with ``ends`` the end) within ``tol`` beats."""
    left = 0
    for key in {(p, v) for p, v in new[:, 2:4].tolist()}:
        mine = new[(new[:, 2] == key[0]) & (new[:, 3] == key[1])]
        theirs = old[(old[:, 2] == key[0]) & (old[:, 3] == key[1])]
        mine, theirs = mine[np.lexsort(mine[:, 1::-1].T)], theirs[np.lexsort(theirs[:, 1::-1].T)]
        j = 0
        for onset, end in mine[:, :2].tolist():
            while j < len(theirs) and theirs[j, 0] < onset - tol:
                j += 1
            near = j
            while near < len(theirs) and theirs[near, 0] <= onset + tol and ends and abs(theirs[near, 1] - end) > tol:
                near += 1
            if near < len(theirs) and abs(theirs[near, 0] - onset) <= tol:
                theirs = np.delete(theirs, near, axis=0)
            else:
                left += 1
    return left


def test_1000_mutants_of_real_midi_get_the_same_reasons_and_notes_from_both_decoders(chorales, monkeypatch):
    rng = random.Random(SEED)
    seeds = _seeds(chorales)
    mutants = [_mutate(rng.choice(seeds), rng, seeds) for _ in range(MUTANTS)]
    start = time.monotonic()
    new = _decode_all(mutants, "symusic", monkeypatch)
    seconds = time.monotonic() - start
    old = _decode_all(mutants, "smf", monkeypatch)
    lenient = fewer = 0
    for i, (o, n) in enumerate(zip(old, new, strict=True)):
        assert not n.reason.startswith(NOT_A_FILE_REASON), (i, n.reason, f"seed {SEED}")
        if o.notes is None and LENIENT.search(o.reason):  # symusic reads on where the SMF decoder refuses: a
            # byte it does not check (aftertouch, pressure, a bend's low byte) or a system message it skips (a
            # flipped bit turns FF, a meta event, into FB); what comes after may then read otherwise
            lenient += n.notes is not None or n.reason != o.reason
        elif o.notes is None:
            assert n.notes is None and n.reason == o.reason, (i, o.reason, n.reason, f"seed {SEED}")
        else:
            assert n.notes is not None, (i, n.reason, f"seed {SEED}")
            tick = _retimed_tick(mutants[i])
            assert n.tempo == pytest.approx(o.tempo, rel=1e-12)
            if tick:  # re-timed: two changes a tick apart may meet at one tick, where the last holds
                assert _tempo_rows_within(o.tempo_map, n.tempo_map, tick), (i, f"seed {SEED}")
            else:
                np.testing.assert_allclose(n.tempo_map, o.tempo_map, rtol=1e-12, atol=1e-9)
            # a note symusic keeps is one pretty_midi keeps; where symusic drops a note (a key struck twice before
            # its note-off: the pinned difference) the sustain pedal may hold the note before it longer, as the
            # key is no longer struck again there, so only onset, pitch and velocity are compared then (and for
            # a re-timed file, whose shortest notes the SMF decoder may lose)
            same_count = len(o.notes) == len(n.notes)
            ends = same_count and not tick
            assert not _unmatched(n.notes, o.notes, tick or 1e-6, ends), (i, f"seed {SEED}")
            fewer += not same_count
    n_ok = sum(r.notes is not None for r in new)
    assert 50 < n_ok < MUTANTS  # the mutations hit both ways: the test can fail
    assert lenient <= MUTANTS // 100 and fewer <= n_ok // 2, (lenient, fewer)
    assert seconds < 30, f"{MUTANTS} mutants took {seconds:.0f} s"


def test_the_in_process_symusic_decoder_raises_only_its_own_error_on_mutants(chorales):
    rng = random.Random(SEED + 2)
    seeds = _seeds(chorales)
    for _ in range(300):
        data = _mutate(rng.choice(seeds), rng, seeds)
        try:
            decode_notes(data, DataConfig(), Limits(), decoder="symusic")
        except MidiReadError as exc:
            assert str(exc), data[:32]
        except Exception as exc:  # pragma: no cover - the failure message names the mutant
            pytest.fail(f"{type(exc).__name__}: {exc} on a mutant starting {data[:32]!r} (seed {SEED + 2})")


@pytest.mark.parametrize("message", [b"\xfb", b"\xf8", b"\xfe", b"\xf6", b"\xf3\x01", b"\xf1\x05", b"\xf2\x01\x02"])
def test_a_system_message_in_a_track_is_skipped_by_symusic_and_refused_by_the_smf_decoder(message):
    """The other reason the battery lets differ: a system common or real-time message (no place in a file;
    a flipped bit turns a meta event's FF into FB), which symusic skips with its data bytes (pinned)."""
    data = raw_midi(NOTE + b"\x00" + message + NOTE + END)
    with pytest.raises(MidiReadError, match=SYSTEM_MESSAGE):
        decode_notes(data, DataConfig(), Limits(), decoder="smf")
    notes, *_ = decode_notes(data, DataConfig(), Limits(), decoder="symusic")
    assert np.array_equal(notes, [[0, 1, 60, 64], [1, 2, 60, 64]])
    undefined = raw_midi(NOTE + b"\x00\xf4" + NOTE + END)  # an undefined one both refuse, in the same words
    with pytest.raises(MidiReadError, match="unexpected status byte 0xF4"):
        decode_notes(undefined, DataConfig(), Limits(), decoder="symusic")


@pytest.mark.parametrize("event", [b"\xa0\x3c\xc0", b"\xd0\xc0", b"\xe0\xc0\x00"], ids=["poly", "pressure", "bend"])
def test_a_data_byte_above_127_that_symusic_does_not_check_is_read_not_refused(event):
    """One of the two reasons the battery lets differ: a byte of 192 in an aftertouch, a channel pressure or the low
    byte of a pitch bend, events musegen does not read (pinned)."""
    data = raw_midi(b"\x00" + event + NOTE + END)
    with pytest.raises(MidiReadError, match="data byte 192 above 127"):
        decode_notes(data, DataConfig(), Limits(), decoder="smf")
    notes, *_ = decode_notes(data, DataConfig(), Limits(), decoder="symusic")
    assert np.array_equal(notes, [[0, 1, 60, 64]])
