"""The core corpus that ships inside music21, read into note events: its collections, their sources and licences.

music21's core corpus (``music21.corpus.getCorePaths()``) holds about 3,200 files in 35 folders: MusicXML
(``.mxl``, ``.xml``, ``.musicxml``), Humdrum (``.krn``), ABC (many tunes in one file: an Opus, one piece per
tune) and RomanText analyses (``.rntxt``: chords named by function, not notes anyone played; skipped, with
that reason). A collection here is one top-level folder of the corpus, with where its encodings come from
and the terms they are distributed under, as the package's ``corpus/license.txt``, the collections' own
licence files and the files' headers say (read at the time of music21 10.5). Not every collection is free:
music21 distributes the corpus "with the permission of the encoders ... some encodings may not be used for
commercial uses"; :data:`COLLECTIONS` says which. Anything not listed is reported under
``other`` with the corpus-wide terms.

Files are parsed from their source (``forceSource``: music21's own parse cache is pickles, and is not
used), ties are merged, every part's notes kept; a note's velocity is the one its score names
(``note.volume.velocity``), else :data:`musegen.sources.corpus.CHORALE_VELOCITY`. Repeats are not expanded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from musegen.notes import Piece
from musegen.sources.corpus import score_to_piece

SKIPPED_SUFFIXES = {".rntxt": "a RomanText harmonic analysis (chord functions, not notes played): not music to learn"}
PUBLIC_DOMAIN, NON_COMMERCIAL, RESTRICTED = "public domain", "non-commercial", "restricted"


@dataclass(frozen=True)
class Collection:
    """One folder of music21's core corpus: what it is, where its encodings come from, on what terms."""

    name: str
    title: str
    source: str
    licence: str
    status: str = PUBLIC_DOMAIN  # PUBLIC_DOMAIN, NON_COMMERCIAL or RESTRICTED (encodings under copyright)


CORPUS_TERMS = "distributed with music21 by permission of the encoders (music21 corpus/license.txt)"
_CAMPIN = "ABC transcriptions by Jack Campin (www.campin.me.uk), distributed with music21"
_COLLECTIONS = [
    Collection("airdsAirs", "Aird's Selection of Airs (1782-1803)", _CAMPIN, "public-domain music; " + CORPUS_TERMS),
    Collection(
        "bach",
        "J. S. Bach: chorales (MusicXML) and a few other works",
        "music21 project encodings; 3 Humdrum files by CCARH",
        "public-domain music; the .krn files say 'Copyright 1994, CCARH ... refer to licensing agreement'",
    ),
    Collection("beach", "Amy Beach", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection(
        "beethoven",
        "Beethoven: string quartets and piano works",
        "music21 project and Humdrum (CCARH) encodings",
        "public-domain music; Humdrum encodings CCARH copyright, licensed for use",
    ),
    Collection("chopin", "Chopin (Humdrum)", "Humdrum, CCARH", "public-domain music; CCARH encoding licensed for use"),
    Collection("ciconia", "Johannes Ciconia", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("corelli", "Corelli", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("cpebach", "C. P. E. Bach", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("demos", "music21 demonstration scores", "music21 project", CORPUS_TERMS),
    Collection(
        "essenFolksong",
        "Essen Folksong Collection (EsAC)",
        "EsAC (Helmut Schaffrath, Ewa Dahlig-Turek); ABC by Seymour Schlien",
        "permission for non-commercial distribution and use in music21 (essenFolksong/license.txt)",
        NON_COMMERCIAL,
    ),
    Collection("handel", "Handel", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("haydn", "Haydn: string quartets", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("johnson_j_r", "J. Rosamond Johnson", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("joplin", "Scott Joplin", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection(
        "josquin",
        "Josquin des Prez: masses (ABC)",
        "ABC by Laura E. Conrad (1999)",
        "GNU General Public License v2 or later (the files' headers)",
        RESTRICTED,
    ),
    Collection("leadSheet", "lead sheets", "music21 project", CORPUS_TERMS),
    Collection("liliuokalani", "Liliuokalani", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("luca", "Gloria (Luca)", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("lusitano", "Vicente Lusitano", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("miscFolk", "folk tune books (ABC)", _CAMPIN, "public-domain music; " + CORPUS_TERMS),
    Collection(
        "monteverdi", "Monteverdi: madrigals", "music21 project encodings", "public-domain music; " + CORPUS_TERMS
    ),
    Collection("mozart", "Mozart: string quartets", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection(
        "nottingham-dataset",
        "Nottingham Music Database (excerpt)",
        "Eric Foxley's Nottingham folk-tune database, ABC",
        "traditional tunes; " + CORPUS_TERMS,
    ),
    Collection(
        "oneills1850",
        "O'Neill's Music of Ireland (1903)",
        "ABC by many transcribers (Bob Safranek, Henrik Norbeck, John Chambers, ...)",
        "public-domain music; " + CORPUS_TERMS,
    ),
    Collection(
        "palestrina",
        "Palestrina: masses (Humdrum)",
        "Humdrum encodings by John Miller",
        "the files say 'Copyright 2000, John Miller'; distributed with music21 by permission",
        RESTRICTED,
    ),
    Collection(
        "ryansMammoth",
        "Ryan's Mammoth Collection (1883)",
        "ABC transcriptions (Ray Davies and others), distributed with music21",
        "public-domain music; " + CORPUS_TERMS,
    ),
    Collection(
        "schoenberg", "Schoenberg", "music21 project", CORPUS_TERMS + " (check the composer's terms)", RESTRICTED
    ),
    Collection("schubert", "Schubert", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("schumann_clara", "Clara Schumann", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("schumann_robert", "Robert Schumann", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("theoryExercises", "theory exercises", "music21 project", CORPUS_TERMS),
    Collection(
        "trecento", "Trecento works", "encodings by Michael Scott Cuthbert", "public-domain music; " + CORPUS_TERMS
    ),
    Collection("verdi", "Verdi", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("weber", "Weber", "music21 project", "public-domain music; " + CORPUS_TERMS),
    Collection("webern", "Webern", "music21 project", CORPUS_TERMS + " (check the composer's terms)", RESTRICTED),
]
COLLECTIONS: dict[str, Collection] = {c.name: c for c in _COLLECTIONS}
OTHER = Collection("other", "a folder this list does not know", "music21 core corpus", CORPUS_TERMS, RESTRICTED)


def corpus_root() -> Path:
    """The folder of music21's corpus inside the installed package."""
    from music21 import corpus

    return Path(corpus.__file__).resolve().parent


@lru_cache(maxsize=1)
def core_paths() -> tuple[tuple[str, Path], ...]:
    """(collection, path) of every core-corpus file, sorted by the path relative to the corpus folder."""
    from music21 import corpus

    root = corpus_root()
    out = []
    for p in corpus.getCorePaths():
        path = Path(p).resolve()
        rel = path.relative_to(root)
        out.append((rel.parts[0] if len(rel.parts) > 1 else "other", path))
    return tuple(sorted(out, key=lambda cp: cp[1].relative_to(root).as_posix()))


def collection(name: str) -> Collection:
    return COLLECTIONS.get(name, OTHER)


def skip_reason(path: Path) -> str:
    """Why a file is not read ("" when it is)."""
    return SKIPPED_SUFFIXES.get(path.suffix.lower(), "")


def read_corpus_file(path: str | Path, name: str) -> list[Piece]:
    """The pieces of one corpus file: one per score, many for an ABC Opus (``name#k title``)."""
    from music21 import converter, stream

    parsed: Any = converter.parse(str(path), forceSource=True)
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        return [_piece(s, f"{name}#{k + 1} {_title(s)}".rstrip()) for k, s in enumerate(scores)]
    return [_piece(parsed, name)]


def _piece(score: Any, name: str) -> Piece:
    return score_to_piece(score, name, dynamics=True, in_place=True)  # the score was parsed for this alone


def _title(score: Any) -> str:
    md = getattr(score, "metadata", None)
    title = (getattr(md, "title", None) or "") if md is not None else ""
    return str(title).replace("\n", " ")[:80]
