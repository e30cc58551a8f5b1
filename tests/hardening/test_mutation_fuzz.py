"""A seeded, time-bounded mutation fuzz of real MIDI files: no crash, no hang, every file ok or a reason.

The seeds are real music (Bach chorales of the built-in corpus written as MIDI, and real piano
files where ``../shared/data/piano`` is present) and the odd files of ``tests/midi_factory``.
Each mutant damages them the way the issue's 3,090 did: flipped and inserted bytes, cut and
repeated ranges, long variable-length numbers, lying header and chunk fields, spliced files.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from musegen.config import Limits
from musegen.errors import MidiReadError
from musegen.sources.decode import parse_midi
from musegen.sources.ingest import ingest_sources
from tests.midi_factory import (
    piece_midi,
    simultaneous_notes_midi,
    tempo_map_only_midi,
    tempo_midi,
    time_signature_every_bar_midi,
    type2_midi,
)

PIANO = Path(__file__).resolve().parents[3] / "shared" / "data" / "piano"
SEED = int(os.environ.get("MUSEGEN_FUZZ_SEED", "17"))
MUTANTS = int(os.environ.get("MUSEGEN_FUZZ_MUTANTS", "600"))
BUDGET_S = 60.0  # on two cores
# Reasons that would mean the decoder, not the file, failed: an exception it did not expect, a crash, a runaway.
NOT_A_FILE_REASON = ("the decoder failed", "crashed the decoder", "was killed", "took more than", "took longer than")


def _seeds(chorales) -> list[bytes]:
    files = [piece_midi(p, tempo=80 + 7 * i) for i, p in enumerate(chorales[:8])]
    files += [simultaneous_notes_midi(300), tempo_midi(1), tempo_map_only_midi(20), time_signature_every_bar_midi(16)]
    files += [type2_midi()]
    if PIANO.is_dir():
        files += [p.read_bytes() for p in sorted(PIANO.rglob("*.mid"))[::18]]  # six pieces, 1-10 minutes
    return files


def _mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(11)
        at = rng.randrange(14, len(buf)) if len(buf) > 14 else 0
        if op == 10:  # a data byte changed to another valid one: the file often still decodes
            for _ in range(rng.randint(1, 16)):
                where = rng.randrange(14, len(buf)) if len(buf) > 14 else 0
                if where < len(buf) and buf[where] < 0x80:
                    buf[where] = rng.randrange(0x80)
        elif op == 0:  # flip a few bits
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1:  # random bytes in
            buf[at:at] = rng.randbytes(rng.randint(1, 64))
        elif op == 2:  # a range out
            del buf[at : at + rng.randint(1, 256)]
        elif op == 3:  # cut short
            del buf[at:]
        elif op == 4:  # a range repeated: floods of events
            piece = bytes(buf[at : at + rng.randint(3, 64)])
            buf[at:at] = piece * rng.randint(2, 4000)
        elif op == 5:  # a long variable-length number
            buf[at:at] = bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(4, 40)))
        elif op == 6 and len(buf) >= 14:  # lying header: format, tracks, division
            field = rng.choice((8, 10, 12))
            buf[field : field + 2] = rng.randrange(65536).to_bytes(2, "big")
        elif op == 7:  # a lying chunk length
            where = buf.find(b"MTrk", rng.randrange(len(buf) or 1))
            if where >= 0:
                buf[where + 4 : where + 8] = rng.choice((0, 1, 0xFFFFFFFF, rng.randrange(1 << 32))).to_bytes(4, "big")
        elif op == 8:  # spliced with another file
            other = rng.choice(others)
            buf = buf[:at] + bytearray(other[rng.randrange(len(other)) :])
        else:  # a status byte where data should be, or data where a status should be
            buf[at : at + 1] = bytes([rng.choice((0x80, 0x90, 0xC0, 0xF0, 0xF7, 0xFF, 0x00, 0x7F))])
    last = buf.rfind(b"MTrk")
    if last >= 0 and rng.random() < 0.6:  # most mutants keep their last track's length right: they get further
        buf[last + 4 : last + 8] = max(0, len(buf) - last - 8).to_bytes(4, "big")
    return bytes(buf[: 2 * 1024 * 1024])


def test_mutants_of_real_midi_each_get_ok_or_a_reason_in_time(chorales):
    rng = random.Random(SEED)
    seeds = _seeds(chorales)
    mutants = [(f"m{i:03d}.mid", _mutate(rng.choice(seeds), rng, seeds)) for i in range(MUTANTS)]
    start = time.monotonic()
    report = ingest_sources(mutants, use_cache=False, limits=Limits(max_decode_seconds=10))
    seconds = time.monotonic() - start
    assert [r.name for r in report.results] == [n for n, _ in mutants]  # one row each, in order
    for r in report.results:
        assert r.ok or r.reason, r
        assert not r.reason.startswith(NOT_A_FILE_REASON), (r.name, r.reason, f"seed {SEED}")
    assert seconds < BUDGET_S, f"{len(mutants)} mutants took {seconds:.0f} s"
    assert 0 < report.n_ok < len(mutants)  # the mutations hit both ways: the test can fail


def test_the_in_process_decoder_raises_only_its_own_error_on_mutants(chorales):
    """What the render command runs: MidiReadError with a reason, never another exception."""
    rng = random.Random(SEED + 1)
    seeds = _seeds(chorales)
    limits = Limits()
    for _ in range(120):
        data = _mutate(rng.choice(seeds), rng, seeds)
        try:
            parse_midi(data, limits)
        except MidiReadError as exc:
            assert str(exc), data[:32]
        except Exception as exc:  # pragma: no cover - the failure message names the mutant
            pytest.fail(f"{type(exc).__name__}: {exc} on a mutant starting {data[:32]!r} (seed {SEED + 1})")
