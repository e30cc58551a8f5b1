"""Musical metrics: statistics of one piece, and how close a generated set is to real music.

Per piece (:func:`piece_stats`): pitch-class histogram and its entropy, scale consistency
(the share of notes in the best-fitting major or harmonic-minor scale, as in Mogren's
C-RNN-GAN), polyphony, pitch range, note-length and inter-onset histograms over twelve
musical classes, and repetition: the distinct 4-gram ratio of the note sequence and the
longest exact segment that occurs twice. For performed music (issue 13) also the dynamics, the
mean and spread of the notes' velocities, and how long notes sound in seconds (through the
piece's tempo map, :meth:`~musegen.notes.Piece.seconds`), over twelve log-spaced classes from
30 ms to 4 s: the beat classes say what a score writes, the seconds what a listener hears.

Per set (:func:`compare_sets`): the method of Yang and Lerch, "On the evaluation of
generative models in music", Neural Computing and Applications 32 (2020), first shown in
2018. For each feature, pairwise Euclidean distances are taken within the real set
(intra-set), within the generated set, and between the sets (inter-set); each distance
sample is smoothed by a Gaussian kernel density estimate, and two densities are compared
by their overlapped area, OA = integral of min(p, q), and by the KL divergence. An OA of 1
between real intra-set and inter-set distances means generated pieces sit among the real
ones as the real ones sit among themselves; OA(generated intra-set, inter-set) also
reveals a generator that collapses to a few near-identical pieces. :data:`SET_FEATURES` are the
features of issue 7's tables (the default); :data:`PIANO_FEATURES` adds the performance ones
(:data:`PERFORMANCE_FEATURES`: velocity mean, velocity spread, note lengths in seconds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import combinations, pairwise

import numpy as np

from musegen.errors import DatasetError
from musegen.notes import END, PITCH, PITCH_CLASSES, START, VELOCITY, Piece, seconds_to_beats

# Yang & Lerch's twelve note-length classes, in beats (quarter notes).
LENGTH_CLASSES = (
    ("whole", 4.0),
    ("half", 2.0),
    ("quarter", 1.0),
    ("eighth", 0.5),
    ("sixteenth", 0.25),
    ("dotted half", 3.0),
    ("dotted quarter", 1.5),
    ("dotted eighth", 0.75),
    ("dotted sixteenth", 0.375),
    ("half triplet", 4 / 3),
    ("quarter triplet", 2 / 3),
    ("eighth triplet", 1 / 3),
)
LENGTH_LABELS = tuple(label for label, _ in LENGTH_CLASSES)
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "harmonic minor": (0, 2, 3, 5, 7, 8, 11)}
# Note lengths in seconds: twelve classes between log-spaced edges from 30 ms to 4 s (shorter and
# longer notes count in the first and last class). Staccato sixteenths at a fast tempo sit near
# 60 ms, a held pedal chord at 2-4 s.
SECONDS_BINS = 12
SECONDS_RANGE = (0.03, 4.0)
SECONDS_EDGES = tuple(float(x) for x in np.geomspace(*SECONDS_RANGE, SECONDS_BINS + 1))
SECONDS_LABELS = tuple(
    f"{a * 1000:.0f}-{b * 1000:.0f} ms" if b < 1 else f"{a:.2g}-{b:.2g} s" for a, b in pairwise(SECONDS_EDGES)
)
NGRAM = 4
ONSET_GRID = 12  # steps per beat when comparing onsets for repetition (sixteenths and triplets)
FIGURE_NOTES = 300  # notes read by figure_repetition: about 35 s of the piano pieces, 40 beats of a chorale


@dataclass
class PieceStats:
    """Musical statistics of one piece; plain values a UI can table or chart."""

    name: str
    n_notes: int
    length_beats: float
    pitch_class_histogram: list[float]  # 12 shares (C..B) of notes, summing to 1
    pitch_class_entropy: float  # bits; 0 = one pitch class, log2(12) = all equally often
    scale_consistency: float  # share of notes in the best-fitting scale (1 = all in one scale)
    best_scale: str  # e.g. "G major"
    polyphony: float  # mean notes sounding at once, over the time something sounds
    max_polyphony: int
    pitch_range: int  # highest minus lowest pitch, in semitones
    lowest_pitch: int
    highest_pitch: int
    used_pitches: int  # distinct MIDI pitches
    mean_interval: float  # mean absolute step of the top line (the skyline melody), in semitones
    mean_ioi: float  # mean time between successive onsets, in beats
    note_length_histogram: list[float]  # shares over LENGTH_CLASSES
    ioi_histogram: list[float]  # shares of inter-onset intervals over LENGTH_CLASSES
    distinct_ngram_ratio: float  # distinct 4-grams / all 4-grams of the note sequence (low = loops)
    longest_repeat: int  # notes in the longest exact segment that occurs twice
    longest_repeat_share: float  # longest_repeat / n_notes (near 1 = the piece is one loop)
    # performance (issue 13): dynamics, and note lengths as heard
    velocity_mean: float = 0.0  # mean MIDI velocity (1-127) of the notes
    velocity_std: float = 0.0  # their standard deviation: 0 = every note at one loudness
    note_seconds_histogram: list[float] = field(default_factory=lambda: [0.0] * SECONDS_BINS)  # over SECONDS_LABELS
    median_note_seconds: float = 0.0  # the median note length in seconds

    def to_dict(self) -> dict:
        return asdict(self)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if len(p) else 0.0


def _length_class_histogram(beats: np.ndarray) -> list[float]:
    """Shares of ``beats`` (positive durations) nearest (in log time) to each length class."""
    beats = beats[beats > 0]
    if not len(beats):
        return [0.0] * len(LENGTH_CLASSES)
    classes = np.log2([b for _, b in LENGTH_CLASSES])
    nearest = np.abs(np.log2(beats)[:, None] - classes[None, :]).argmin(axis=1)
    counts = np.bincount(nearest, minlength=len(LENGTH_CLASSES))
    return (counts / counts.sum()).tolist()


def seconds_histogram(seconds: np.ndarray) -> list[float]:
    """Shares of note lengths ``seconds`` over the log-spaced classes of :data:`SECONDS_EDGES` (the
    shortest and longest class also take what lies below or above the range)."""
    seconds = np.asarray(seconds, dtype=np.float64).ravel()
    seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
    if not len(seconds):
        return [0.0] * SECONDS_BINS
    inner = np.asarray(SECONDS_EDGES[1:-1])
    counts = np.bincount(np.searchsorted(inner, seconds, side="right"), minlength=SECONDS_BINS)
    return (counts / counts.sum()).tolist()


def note_seconds(piece: Piece) -> np.ndarray:
    """How long each note of ``piece`` sounds, in seconds (through its tempo map)."""
    notes = _in_order(piece)
    if not len(notes):
        return np.zeros(0)
    return piece.seconds(notes[:, END]) - piece.seconds(notes[:, START])


def excerpt(piece: Piece, start_s: float, seconds: float, name: str | None = None) -> Piece:
    """The notes of ``piece`` that begin within ``seconds`` seconds from ``start_s`` (seconds of its tempo
    map), cut off at the end, timed from the excerpt's start; its tempo map goes with it."""
    tm = piece.tempos()
    b0, b1 = (float(b) for b in seconds_to_beats(np.array([start_s, start_s + seconds], dtype=np.float64), tm))
    notes = np.asarray(piece.notes, dtype=np.float64).reshape(-1, 4)
    notes = notes[(notes[:, START] >= b0) & (notes[:, START] < b1)].copy()
    notes[:, END] = np.minimum(notes[:, END], b1)
    notes[:, :2] -= b0
    later = tm[tm[:, 0] > b0].copy()
    later[:, 0] -= b0
    tempo_map = np.vstack([[0.0, piece.tempo_at(b0)], later]) if piece.tempo_map is not None else None
    return Piece(piece.name if name is None else name, notes, piece.tempo_at(b0), tempo_map)


def _best_scale(counts: np.ndarray) -> tuple[float, str]:
    """(share of notes, name) of the scale holding most notes; counts per pitch class."""
    best, label = -1, ""
    for kind, steps in SCALES.items():  # major first: it wins ties with its relative minor
        for root in range(12):
            inside = int(counts[[(root + s) % 12 for s in steps]].sum())
            if inside > best:
                best, label = inside, f"{PITCH_CLASSES[root]} {kind}"
    return best / counts.sum(), label


def _polyphony(notes: np.ndarray) -> tuple[float, int]:
    """Time-weighted mean and maximum of the number of sounding notes (where any sounds)."""
    times = np.concatenate([notes[:, START], notes[:, END]])
    steps = np.concatenate([np.ones(len(notes)), -np.ones(len(notes))])
    order = np.lexsort((steps, times))  # at one instant, note ends before note starts
    times, count = times[order], np.cumsum(steps[order])
    spans = np.diff(times)
    sounding = count[:-1] > 0
    total = spans[sounding].sum()
    mean = float((spans * count[:-1])[sounding].sum() / total) if total > 0 else 0.0
    return mean, int(count.max())


def _top_line(notes: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Pitches of the melody on top: notes that start as the highest sounding note."""
    onsets = notes[first, START]
    starting_top = np.maximum.reduceat(notes[:, PITCH], first)
    sounding_top = np.empty(len(onsets))
    for a in range(0, len(onsets), 1024):  # chunks keep the (onsets x notes) mask small
        t = onsets[a : a + 1024, None]
        sounding = (notes[None, :, START] <= t) & (notes[None, :, END] > t)
        sounding_top[a : a + 1024] = np.where(sounding, notes[None, :, PITCH], -1).max(axis=1)
    return starting_top[starting_top >= sounding_top]


def _note_sequence(notes: np.ndarray) -> np.ndarray:
    """One integer per note: its pitch and its onset step from the previous note."""
    steps = np.round(np.diff(notes[:, START], prepend=notes[0, START]) * ONSET_GRID).astype(np.int64)
    return notes[:, PITCH].astype(np.int64) + 128 * np.minimum(steps, 16 * ONSET_GRID)


def _in_order(piece: Piece) -> np.ndarray:
    """The piece's notes (N, 4) as float64, by onset and, at one onset, by pitch."""
    notes = np.asarray(piece.notes, dtype=np.float64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, PITCH], notes[:, START]))]


def figure_repetition(piece: Piece, notes: int = FIGURE_NOTES) -> float:
    """How little the opening ``notes`` notes of ``piece`` repeat their figures: the distinct 4-gram ratio
    of their note sequence (1 = no 4-note figure comes back; the real piano pieces score 0.66, Bach's
    chorales 0.94). A fixed count of notes, because longer excerpts repeat more."""
    found = _in_order(piece)[:notes]
    return distinct_ngram_ratio(_note_sequence(found)) if len(found) else 1.0


def distinct_ngram_ratio(seq: np.ndarray, n: int = NGRAM) -> float:
    """Distinct n-grams over all n-grams of ``seq`` (1 when too short to repeat)."""
    if len(seq) < n:
        return 1.0
    grams = np.lib.stride_tricks.sliding_window_view(np.asarray(seq), n)
    return len(np.unique(grams, axis=0)) / len(grams)


def longest_repeat(seq: np.ndarray) -> int:
    """Length of the longest segment occurring at least twice (occurrences may overlap).

    Suffix array by prefix doubling, then the longest common prefix of neighbours (Kasai).
    """
    n = len(seq)
    if n < 2:
        return 0
    rank = np.unique(np.asarray(seq), return_inverse=True)[1].astype(np.int64).ravel()
    k = 1
    while True:
        second = np.full(n, -1, dtype=np.int64)  # rank of the suffix k further on; -1 past the end
        if k < n:
            second[: n - k] = rank[k:]
        order = np.lexsort((second, rank))
        changed = (rank[order][1:] != rank[order][:-1]) | (second[order][1:] != second[order][:-1])
        new = np.empty(n, dtype=np.int64)
        new[order] = np.concatenate([[0], np.cumsum(changed)])
        rank = new
        if rank.max() == n - 1:
            break
        k *= 2
    sa, values, best, h = order, np.asarray(seq).tolist(), 0, 0
    for i in range(n):  # Kasai: walk suffixes in text order, reusing h - 1
        if rank[i] == 0:
            h = 0
            continue
        j = int(sa[rank[i] - 1])
        while i + h < n and j + h < n and values[i + h] == values[j + h]:
            h += 1
        best = max(best, h)
        h = max(h - 1, 0)
    return best


def piece_stats(piece: Piece) -> PieceStats:
    """All per-piece statistics of ``piece`` (zeros for a piece without notes)."""
    notes = _in_order(piece)
    if not len(notes):
        zeros = [0.0] * 12
        return PieceStats(
            piece.name, 0, 0.0, zeros, 0.0, 0.0, "", 0.0, 0, 0, 0, 0, 0, 0.0, 0.0, zeros, zeros, 1.0, 0, 0.0
        )
    pitches = notes[:, PITCH].astype(np.int64)
    counts = np.bincount(pitches % 12, minlength=12)
    hist = counts / counts.sum()
    consistency, scale = _best_scale(counts)
    poly, max_poly = _polyphony(notes)
    first = np.flatnonzero(np.diff(notes[:, START], prepend=-np.inf) != 0)  # first note of each onset
    iois = np.diff(notes[first, START])
    top = _top_line(notes, first)
    seq = _note_sequence(notes)
    repeat = longest_repeat(seq)
    lengths = note_seconds(Piece(piece.name, notes, piece.tempo, piece.tempo_map))
    return PieceStats(
        name=piece.name,
        n_notes=len(notes),
        length_beats=float(notes[:, END].max()),
        pitch_class_histogram=hist.tolist(),
        pitch_class_entropy=_entropy(hist),
        scale_consistency=consistency,
        best_scale=scale,
        polyphony=poly,
        max_polyphony=max_poly,
        pitch_range=int(pitches.max() - pitches.min()),
        lowest_pitch=int(pitches.min()),
        highest_pitch=int(pitches.max()),
        used_pitches=len(np.unique(pitches)),
        mean_interval=float(np.abs(np.diff(top)).mean()) if len(top) > 1 else 0.0,
        mean_ioi=float(iois.mean()) if len(iois) else 0.0,
        note_length_histogram=_length_class_histogram(notes[:, END] - notes[:, START]),
        ioi_histogram=_length_class_histogram(iois),
        distinct_ngram_ratio=distinct_ngram_ratio(seq),
        longest_repeat=repeat,
        longest_repeat_share=repeat / len(notes),
        velocity_mean=float(notes[:, VELOCITY].mean()),
        velocity_std=float(notes[:, VELOCITY].std()),
        note_seconds_histogram=seconds_histogram(lengths),
        median_note_seconds=float(np.median(lengths)),
    )


# --- sets: Yang & Lerch -------------------------------------------------------------------

# Features compared between sets; each is a number or a vector per piece.
SET_FEATURES = (
    "pitch_class_histogram",
    "pitch_class_entropy",
    "scale_consistency",
    "used_pitches",
    "pitch_range",
    "mean_interval",
    "polyphony",
    "mean_ioi",
    "note_length_histogram",
    "ioi_histogram",
    "distinct_ngram_ratio",
)
# What a performance adds (issue 13): compared by the piano benchmark beside SET_FEATURES.
PERFORMANCE_FEATURES = ("velocity_mean", "velocity_std", "note_seconds_histogram")
PIANO_FEATURES = SET_FEATURES + PERFORMANCE_FEATURES


@dataclass
class FeatureOverlap:
    """How one feature's distribution of generated pieces compares with the real pieces."""

    feature: str
    overlap: float  # OA(real intra-set, inter-set) in [0, 1]; 1 = indistinguishable
    overlap_generated: float  # OA(generated intra-set, inter-set); low when the generator collapses
    kl_divergence: float  # KL(real intra-set || inter-set), nats; 0 = identical
    intra_real_mean: float  # mean distance between two real pieces
    intra_generated_mean: float  # mean distance between two generated pieces
    inter_mean: float  # mean distance between a generated and a real piece
    curve: dict[str, list[float]] | None = None  # x and the three densities, for a chart


@dataclass
class SetComparison:
    """Yang & Lerch comparison of a generated set against real held-out pieces."""

    features: list[FeatureOverlap]
    n_generated: int
    n_real: int
    skipped: list[str] = field(default_factory=list)  # pieces without notes, left out

    @property
    def mean_overlap(self) -> float:
        return float(np.mean([f.overlap for f in self.features])) if self.features else 0.0

    def rows(self) -> list[dict]:
        """One row per feature (without curves), for a table."""
        return [{k: v for k, v in asdict(f).items() if k != "curve"} for f in self.features]

    def to_dict(self) -> dict:
        return {
            "mean_overlap": self.mean_overlap,
            "n_generated": self.n_generated,
            "n_real": self.n_real,
            "skipped": self.skipped,
            "features": [asdict(f) for f in self.features],
        }


def _vectors(stats: list[PieceStats], feature: str) -> np.ndarray:
    return np.array([np.atleast_1d(np.asarray(getattr(s, feature), dtype=np.float64)) for s in stats])


def _distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: all pairs within ``a`` (i < j), or every pair across ``a`` and ``b``."""
    if b is None:
        return np.array([np.linalg.norm(a[i] - a[j]) for i, j in combinations(range(len(a)), 2)])
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).ravel()


def _bandwidth(x: np.ndarray, floor: float) -> float:
    """Scott's rule for one dimension (std * n^(-1/5)), never below ``floor``."""
    return max(float(np.std(x)) * len(x) ** -0.2, floor)


def _kde(x: np.ndarray, grid: np.ndarray, h: float) -> np.ndarray:
    """Gaussian kernel density estimate of sample ``x`` on ``grid``."""
    z = (grid[:, None] - x[None, :]) / h
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(x) * h * math.sqrt(2 * math.pi))


def overlap_area(p: np.ndarray, q: np.ndarray, grid: np.ndarray) -> float:
    """Overlapped area of two densities on ``grid``: the integral of min(p, q)."""
    return float(np.clip(np.trapezoid(np.minimum(p, q), grid), 0.0, 1.0))


def kl_divergence(p: np.ndarray, q: np.ndarray, grid: np.ndarray, eps: float = 1e-12) -> float:
    """KL(p || q) in nats on ``grid``, with a floor so empty regions of q stay finite."""
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(max(np.trapezoid(p * np.log(p / q), grid), 0.0))


def _compare_feature(name: str, gen: np.ndarray, real: np.ndarray, points: int, curves: bool) -> FeatureOverlap:
    intra_real, intra_gen, inter = _distances(real), _distances(gen), _distances(gen, real)
    everything = np.concatenate([intra_real, intra_gen, inter])
    floor = max(1e-3 * float(everything.max()), 1e-6)  # identical pieces give all-zero distances
    hs = [_bandwidth(d, floor) for d in (intra_real, intra_gen, inter)]
    grid = np.linspace(everything.min() - 4 * max(hs), everything.max() + 4 * max(hs), points)
    p_real, p_gen, p_inter = (_kde(d, grid, h) for d, h in zip((intra_real, intra_gen, inter), hs, strict=True))
    curve = None
    if curves:
        curve = {"x": grid.tolist(), "intra_real": p_real.tolist(), "intra_generated": p_gen.tolist()}
        curve["inter"] = p_inter.tolist()
    return FeatureOverlap(
        feature=name,
        overlap=overlap_area(p_real, p_inter, grid),
        overlap_generated=overlap_area(p_gen, p_inter, grid),
        kl_divergence=kl_divergence(p_real, p_inter, grid),
        intra_real_mean=float(intra_real.mean()),
        intra_generated_mean=float(intra_gen.mean()),
        inter_mean=float(inter.mean()),
        curve=curve,
    )


def compare_sets(
    generated: list[Piece] | list[PieceStats],
    real: list[Piece] | list[PieceStats],
    *,
    features: tuple[str, ...] = SET_FEATURES,
    curves: bool = False,
    points: int = 256,
) -> SetComparison:
    """Compare a generated set with real held-out pieces, feature by feature (Yang & Lerch).

    Pieces without notes are skipped and listed in ``skipped``. Each set needs at least two
    pieces with notes (one distance); otherwise DatasetError. ``curves=True`` keeps the
    three densities on ``points`` grid points per feature for a chart.
    """
    unknown = [f for f in features if f not in PieceStats.__dataclass_fields__ or f in ("name", "best_scale")]
    if unknown:
        raise DatasetError(f"Unknown metric feature(s) {unknown}; choose from {list(PIANO_FEATURES)}.")
    sets, skipped = [], []
    for pieces in (generated, real):
        stats = [p if isinstance(p, PieceStats) else piece_stats(p) for p in pieces]
        skipped += [s.name for s in stats if s.n_notes == 0]
        sets.append([s for s in stats if s.n_notes > 0])
    gen, ref = sets
    if len(gen) < 2 or len(ref) < 2:
        raise DatasetError(
            f"Comparing sets needs at least 2 pieces with notes on each side (got {len(gen)} generated, "
            f"{len(ref)} real); generate more variations or hold out more pieces."
        )
    result = [_compare_feature(f, _vectors(gen, f), _vectors(ref, f), points, curves) for f in features]
    return SetComparison(result, len(gen), len(ref), skipped)
