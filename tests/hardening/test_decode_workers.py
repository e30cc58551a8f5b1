"""Decoding happens in worker processes with memory and CPU limits: their failures become reasons,
the batch goes on, the cache needs no worker, and the notes are those of in-process decoding."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError
from musegen.sources import sandbox
from musegen.sources.ingest import ingest_paths, ingest_sources, read_midi_bytes
from musegen.sources.sandbox import DecodePool, decode_here
from tests.midi_factory import many_notes_midi, midi_bytes, scale_midi

PIANO = Path(__file__).resolve().parents[3] / "shared" / "data" / "piano"
BIG = many_notes_midi(200_000)  # 1.2 MB: 200,000 notes, about 2 s for the SMF decoder, 0.1 s for symusic
# 12 MB, 2 million notes: over 7 s of CPU time for either decoder on this machine (symusic's path counts its
# 4 million events with the SMF decoder's streaming scan first). A CPU limit of 1 s stops a worker after 1 to
# 2 s of its own CPU time (RLIMIT_CPU counts whole seconds on top of what the worker used before), so even a
# machine four times as fast, or one as busy as a parallel test run makes it, cannot finish the file in time.
# CPU time is the worker's own: how busy the machine is changes the wall time only, never the verdict.
SLOW = many_notes_midi(2_000_000)
SLOW_LIMITS = {"max_notes_per_file": 2_500_000, "max_events_per_file": 5_000_000, "max_file_mb": 16}


@pytest.mark.slow
def test_a_file_over_the_cpu_limit_is_stopped_and_the_batch_goes_on():
    limits = Limits(max_decode_seconds=1, **SLOW_LIMITS)
    report = ingest_sources([("big.mid", SLOW), ("ok.mid", scale_midi())], limits=limits, use_cache=False)
    big, ok = report.results
    assert big.reason == "took more than 1 s of CPU time to read (stopped; MUSEGEN_MAX_DECODE_SECONDS)."
    assert ok.ok and ok.n_notes == 8
    with pytest.raises(MidiReadError, match=r"big\.mid: took more than 1 s of CPU time"):
        read_midi_bytes(SLOW, "big.mid", limits=limits)  # the single-file API decodes in a worker too


def test_a_file_over_the_memory_limit_is_a_reason_not_a_crash():
    limits = Limits(max_decode_mb=16)
    report = ingest_sources([("big.mid", BIG), ("ok.mid", scale_midi())], limits=limits, use_cache=False)
    assert report.results[0].reason == "needs more than 16 MB of memory to read (MUSEGEN_MAX_DECODE_MB)."
    assert report.results[1].ok


def test_a_worker_that_crashes_or_overruns_becomes_a_reason(monkeypatch):
    pool = DecodePool(DataConfig(), Limits(**SLOW_LIMITS), workers=1)

    def crash_the_busy_worker() -> None:
        for _ in range(200):
            if pool._busy:
                os.kill(pool._busy[0].process.pid, signal.SIGSEGV)
                return
            time.sleep(0.01)

    threading.Timer(0.2, crash_the_busy_worker).start()
    with pool:
        (_, crashed), (_, after) = pool.map([("big", SLOW), ("ok", scale_midi())])
    assert crashed.reason == "crashed the decoder (SIGSEGV); the file is likely corrupt." and not crashed.final
    assert after.notes is not None and len(after.notes) == 8  # a fresh worker took over
    ingest_sources([(f"{i}.mid", midi_bytes([(0, 1, 60 + i)])) for i in range(4)], use_cache=False)  # warm workers
    monkeypatch.setattr(DecodePool, "__init__", _short_deadline(DecodePool.__init__))
    report = ingest_sources(
        [("big.mid", SLOW), ("ok.mid", scale_midi())], limits=Limits(**SLOW_LIMITS), use_cache=False
    )
    assert report.results[0].reason == "took longer than 0.3 s to read (stopped)."
    assert report.results[1].ok


def _short_deadline(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.deadline_s = 0.3

    return patched


def test_a_cache_hit_needs_no_worker(cache_dir, monkeypatch):
    sources = [("a.mid", scale_midi()), ("b.mid", midi_bytes([(0, 1, 50)])), ("bad.mid", b"MThd" + bytes(40))]
    first = ingest_sources(sources)

    def no_worker(*_: object) -> None:
        raise AssertionError("a decoding worker was started for a cached file")

    monkeypatch.setattr(sandbox, "_Worker", no_worker)
    monkeypatch.setattr(sandbox._SHARED, "_idle", [])
    monkeypatch.setattr(sandbox._SHARED, "_count", 0)
    again = ingest_sources(sources)
    assert all(r.cached for r in again.results)
    assert [r.reason for r in again.results] == [r.reason for r in first.results]
    assert np.array_equal(again.pieces[0].notes, first.pieces[0].notes)


@pytest.mark.slow
def test_killed_or_timed_out_files_are_not_cached(cache_dir):
    limits = Limits(max_decode_seconds=1, **SLOW_LIMITS)
    ingest_sources([("big.mid", SLOW)], limits=limits)
    again = ingest_sources([("big.mid", SLOW)], limits=limits)
    assert not again.results[0].cached  # a busy machine may read it next time


def test_workers_are_shared_and_bounded():
    for _ in range(3):
        ingest_sources([(f"{i}.mid", midi_bytes([(0, 1, 40 + i)])) for i in range(12)], use_cache=False)
    assert sandbox._SHARED._count <= sandbox.WORKERS
    assert all(w.alive() for w in sandbox._SHARED._idle)


def test_worker_results_are_the_in_process_ones_on_real_music(chorales):
    from tests.midi_factory import piece_midi

    files = [(f"{p.name}.mid", piece_midi(p, tempo=90)) for p in chorales]
    if PIANO.is_dir():
        files += [(p.name, p.read_bytes()) for p in sorted(PIANO.rglob("*.mid"))[:20]]
    report = ingest_sources(files, use_cache=False)
    assert report.n_ok == len(files)
    for (name, data), piece in zip(files, report.pieces, strict=True):
        here = decode_here(data, DataConfig(), Limits())
        assert np.array_equal(piece.notes, here.notes) and piece.tempo == here.tempo, name


@pytest.mark.skipif(not PIANO.is_dir(), reason="the real piano files (../shared/data/piano) are absent")
def test_all_piano_files_ingest_from_their_folder():
    report = ingest_paths([PIANO], use_cache=False)
    assert report.n_ok == 110 and report.n_skipped == 0
    assert sum(p.n_notes for p in report.pieces) > 150_000
