"""Hardening, third round (issue 34, point 4): refusing a zip costs what is read before the first limit.

The issue: a 517 KB zip of 50 flood members took 15.6 s of CPU to refuse, each member inflated to the size
limit in turn. A member whose directory entry claims more than the limit is now skipped unread; one that
claims less and inflates past its claim refuses the whole archive at that point.
"""

from __future__ import annotations

import time
import zipfile
import zlib

import pytest

from musegen.config import Limits
from musegen.errors import UploadError
from musegen.sources.archive import read_zip
from musegen.sources.ingest import ingest_sources
from tests.hardening.hostile import BZIP2_512_MIB_CRC, BZIP2_512_MIB_OF_ZEROS, MB, raw_zip
from tests.midi_factory import scale_midi


def _flood(claimed: int | None) -> bytes:
    """50 bzip2 members of 512 MiB of zeros each (claiming ``claimed`` bytes, or the truth), then a good file."""
    size = 512 * MB if claimed is None else claimed
    members = [
        (f"flood{i:02}.mid", zipfile.ZIP_BZIP2, BZIP2_512_MIB_OF_ZEROS, BZIP2_512_MIB_CRC, size) for i in range(50)
    ]
    good = scale_midi()
    return raw_zip([*members, ("good.mid", zipfile.ZIP_STORED, good, zlib.crc32(good), len(good))])


def test_honest_flood_members_are_skipped_unread():
    data = _flood(None)
    start = time.process_time()
    contents = read_zip(data, "flood.zip", Limits())
    assert time.process_time() - start < 0.5
    assert [n for n, _ in contents.members] == ["good.mid"]
    assert len(contents.skipped) == 50 and {r for _, r in contents.skipped} == {"over the size limit of 10 MB"}


def test_lying_flood_members_refuse_the_archive_at_the_first_lie():
    data = _flood(1000)
    assert len(data) < 600_000
    start = time.process_time()
    with pytest.raises(UploadError, match=r"flood00\.mid unpacks to more than the 1,000 bytes its directory claims"):
        read_zip(data, "flood.zip", Limits())
    assert time.process_time() - start < 0.5


def test_claims_over_the_unpacked_budget_refuse_the_archive_unread():
    """20 honest members of 9 MiB of zeros (under the size limit): the budget of 80 MB runs out at the
    ninth, which is refused by its claim, before it is inflated."""
    zeros = bytes(9 * MB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(zeros) + packer.flush()
    members = [(f"z{i:02}.mid", zipfile.ZIP_DEFLATED, deflated, zlib.crc32(zeros), len(zeros)) for i in range(20)]
    data = raw_zip(members)
    start = time.process_time()
    report = ingest_sources([("flood.zip", data)], limits=Limits(max_unpacked_mb=80), use_cache=False)
    assert time.process_time() - start < 1.5  # eight members inflated (72 MB of zeros), not twenty
    (row,) = [r for r in report.results if r.name == "flood.zip"]
    assert "unpacks to more than 80 MB (a zip bomb?)" in row.reason and not report.pieces
