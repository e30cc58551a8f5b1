"""Hardening, third round (issue 34, point 4): refusing a zip costs what is read before the first limit.

The issue: a 517 KB zip of 50 event-flood members (each 9.9 MB of events the note limit does not count, under
the size limit) took 15.6 s of CPU to refuse: every member was inflated and scanned up to the event limit.
A member that inflates more than 100 times its compressed size past the size that could hold more events
than allowed (2 bytes an event) is now refused as a flood while it inflates; real MIDI files deflate 3 to 7
times. A flood that compresses less is still refused by the event limit, and honest files are all kept.
"""

from __future__ import annotations

import time
import zipfile
import zlib

import numpy as np

from musegen.config import Limits
from musegen.sources.archive import MAX_RATIO, read_zip
from musegen.sources.ingest import ingest_sources
from tests.hardening.hostile import END, NOTE, flood_midi, raw_zip
from tests.midi_factory import midi_bytes, raw_midi

FLOOD_REASON = f"unpacks more than {MAX_RATIO} times its compressed size"


def _member(name: str, data: bytes, packed: bytes | None = None) -> tuple[str, int, bytes, int, int]:
    """A deflated member for raw_zip (``packed``: the deflated bytes, when already made)."""
    if packed is None:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
    return name, zipfile.ZIP_DEFLATED, packed, zlib.crc32(data), len(data)


def test_fifty_flood_members_are_refused_as_they_inflate():
    flood = flood_midi("controllers")
    _, _, packed, _, _ = first = _member("flood00.mid", flood)
    floods = [first, *(_member(f"flood{i:02}.mid", flood, packed) for i in range(1, 50))]
    good = midi_bytes([(0, 1, 60), (1, 2, 64), (2, 3, 67)])
    data = raw_zip([*floods, _member("good.mid", good)])
    assert len(data) < 1_000_000
    start = time.process_time()
    report = ingest_sources([("floods.zip", data)], use_cache=False)
    assert time.process_time() - start < 3  # 15.6 s of CPU before (in the decoding workers)
    reasons = {r.name.split("/")[-1]: r.reason for r in report.results}
    assert all(reasons[f"flood{i:02}.mid"].startswith(FLOOD_REASON) for i in range(50))
    assert "upload it on its own" in reasons["flood00.mid"] and reasons["good.mid"] == ""
    assert len(report.pieces) == 1


def _events(rng: np.random.Generator, n: int, status: int) -> np.ndarray:
    """``n`` events of one status byte with one-byte random delta times and data bytes, as (n, 4) bytes."""
    out = np.empty((n, 4), np.uint8)
    out[:, 0] = rng.integers(0, 128, n)
    out[:, 1] = status
    out[:, 2] = rng.integers(21, 109, n)
    out[:, 3] = rng.integers(1, 128, n)
    return out


def test_a_flood_that_compresses_less_is_refused_by_the_event_limit():
    """Random delta times and values keep the ratio low: the member is decoded and stopped at the event limit."""
    body = _events(np.random.default_rng(0), 1_100_000, 0xB0).tobytes()
    report = ingest_sources(
        [("slow.zip", raw_zip([_member("slow.mid", raw_midi(body + NOTE + END))]))], use_cache=False
    )
    (row,) = report.results
    assert "over the limit of 1,000,000 events per file" in row.reason


def test_honest_large_files_are_kept():
    """A long piece of varied notes (2.4 MB, past the flood size of a 300,000-event limit) is kept."""
    ons = _events(np.random.default_rng(1), 300_000, 0x90)
    offs = ons.copy()
    offs[:, 1], offs[:, 3] = 0x80, 0
    piece = raw_midi(np.stack([ons, offs], axis=1).tobytes() + END)
    contents = read_zip(raw_zip([_member("long.mid", piece)]), "long.zip", Limits(max_events_per_file=300_000))
    assert [n for n, _ in contents.members] == ["long.mid"] and not contents.skipped
