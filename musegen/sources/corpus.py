"""The built-in corpus: the Bach chorales that ship inside the music21 package.

music21 needs about a quarter of a second per chorale, so the note events are
converted once by a committed, reproducible command and shipped with musegen::

    python -m musegen.sources.corpus --rebuild        # rewrites musegen/data/bach_chorales.npz

If that file is missing, the first use converts the corpus in parallel and caches it.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from musegen.fileio import atomic_write_bytes
from musegen.notes import Piece, make_notes
from musegen.paths import PACKAGE_DATA
from musegen.sources.cache import cache_dir

log = logging.getLogger(__name__)

BUILTIN_NAME = "bach-chorales"
SHIPPED = PACKAGE_DATA / "bach_chorales.npz"
CHORALE_VELOCITY = 80


def chorale_names() -> list[str]:
    """The 371 four-part chorales of the music21 corpus (Riemenschneider order)."""
    from music21 import corpus

    return list(corpus.chorales.Iterator(returnType="filename"))


def chorale_to_piece(name: str) -> Piece:
    """Parse one chorale with music21 into note events (ties merged, all voices)."""
    from music21 import corpus

    return score_to_piece(corpus.parse(name), name.split("/")[-1])


def score_to_piece(score: Any, name: str, *, dynamics: bool = False, in_place: bool = False) -> Piece:
    """A music21 score (or part, or any stream) as note events: ties merged, every part's notes, its first
    metronome mark as the tempo (else 120). Notes play at ``CHORALE_VELOCITY``; with ``dynamics`` a note whose
    score names a velocity (``note.volume.velocity``) keeps it. ``in_place`` merges the ties in ``score`` itself
    (a third of the time: no copy), for a score nothing else reads."""
    if in_place:
        score.stripTies(inPlace=True)
    else:
        score = score.stripTies()
    parts = list(getattr(score, "parts", ())) or [score]
    rows = []
    for part in parts:
        for n in part.flatten().notes:
            start = float(n.offset)
            end = start + float(n.quarterLength)
            velocity = CHORALE_VELOCITY
            if dynamics and n.volume.velocity is not None:
                velocity = int(n.volume.velocity)
            for p in n.pitches:
                rows.append((start, end, int(p.midi), velocity))
    marks = score.metronomeMarkBoundaries()
    tempo = float(marks[0][2].getQuarterBPM()) if marks else 120.0
    return Piece(name, make_notes(rows), tempo)


def build_corpus(workers: int | None = None) -> list[Piece]:
    """Convert every chorale, in parallel processes; skip (and log) any that music21 cannot read."""
    names = chorale_names()
    workers = workers or max(1, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(chorale_to_piece, n) for n in names]
    pieces = []
    for name, fut in zip(names, futures, strict=True):
        exc = fut.exception()
        if exc is not None:
            log.warning("skipping chorale %s: %s", name, exc)
            continue
        piece = fut.result()
        if piece.n_notes:
            pieces.append(piece)
    return pieces


def save_pieces(pieces: list[Piece], path: Path) -> None:
    """Pieces to one compressed .npz (concatenated notes plus offsets); no pickle."""
    offsets = np.cumsum([0] + [p.n_notes for p in pieces])
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        notes=np.concatenate([p.notes for p in pieces]).astype(np.float32),
        offsets=offsets.astype(np.int64),
        names=np.array([p.name for p in pieces]),
        tempos=np.array([p.tempo for p in pieces], dtype=np.float64),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load_pieces(path: Path) -> list[Piece]:
    with np.load(path, allow_pickle=False) as z:
        notes, offsets = z["notes"].astype(np.float64), z["offsets"]
        names, tempos = z["names"], z["tempos"]
    return [Piece(str(names[i]), notes[offsets[i] : offsets[i + 1]], float(tempos[i])) for i in range(len(names))]


@lru_cache(maxsize=1)
def _load_cached() -> tuple[Piece, ...]:
    if SHIPPED.exists():
        return tuple(load_pieces(SHIPPED))
    cached = cache_dir() / "bach_chorales.npz"
    if cached.exists():
        return tuple(load_pieces(cached))
    log.info("converting the music21 Bach chorales once (cached in %s)", cached)
    pieces = build_corpus()
    save_pieces(pieces, cached)
    return tuple(pieces)


def load_builtin_corpus(limit: int | None = None) -> list[Piece]:
    """The Bach chorales as note events (fresh copies; the cache is never mutated)."""
    pieces = _load_cached()[:limit]
    return [Piece(p.name, p.notes.copy(), p.tempo) for p in pieces]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the shipped Bach chorale note events from music21.")
    parser.add_argument("--rebuild", action="store_true", help=f"convert and write {SHIPPED}")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.rebuild:
        parser.print_help()
        return 0
    pieces = build_corpus(args.workers)
    save_pieces(pieces, SHIPPED)
    print(f"wrote {len(pieces)} chorales, {sum(p.n_notes for p in pieces)} notes to {SHIPPED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
