"""Generate music from a run folder: pick a seed, sample continuations, get note events back.

A :class:`Composer` wraps one run (config, vocabulary, stored token data, and the model,
loaded with TensorFlow only when the first piece is generated). Seeds come from the run's
own pieces (``data.npz``; held-out pieces first, each at the tempo it plays at, and a store run's
timed pieces with their tempo changes, read from its store), at random, or from an uploaded MIDI file;
a seed shorter than the model's context is simply a shorter context. :meth:`Composer.compose`
returns a :class:`Composition`: the seed and one continuation per variation as
:class:`~musegen.notes.Piece` objects, with the beat where the continuations begin.

Everything that depends on the run's representation (what a seed's ids are, how they decode,
how one element is sampled, how many make a beat) is asked of it
(:mod:`musegen.representations`): piano-roll runs work the same way with frames in place of
tokens, and "tokens" then counts frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from musegen import runs
from musegen.config import ConstraintConfig, Limits, SamplingConfig
from musegen.errors import ConfigError, DatasetError, MidiReadError
from musegen.generation.decode import generate, generate_with
from musegen.generation.results import DEFAULT_TEMPO, Composition, Infilling, Seed
from musegen.metrics.music import figure_repetition
from musegen.notes import START, Piece, tempo_changes
from musegen.representations.base import Representation
from musegen.representations.registry import for_vocab
from musegen.slots import GENERATION
from musegen.sources.ingest import read_midi_bytes
from musegen.steering.infill import join
from musegen.steering.motif import suggested_strength
from musegen.vocabulary import Vocabulary

__all__ = ["DEFAULT_TEMPO", "Composer", "Composition", "Infilling", "Seed"]


class Composer:
    """Generation from one run folder; thread-safe, one serves a server's sessions: the model loads once."""

    def __init__(self, run_dir: str | Path):
        self.run = runs.load_run(run_dir)
        if self.run.config is None:
            raise DatasetError(f"run {self.run.run_id} has no readable config.json; retrain it.")
        self.config = self.run.config
        self.vocab: Vocabulary = self.run.vocab()
        if self.vocab.representation != self.config.data.representation:
            raise ConfigError(
                f"run {self.run.run_id}'s vocab.json is of the {self.vocab.representation!r} representation but its "
                f"config.json says {self.config.data.representation!r}: one of them comes from another run. Put back "
                "the run's own files, or train it again."
            )
        self.rep: Representation = for_vocab(self.vocab)
        self._model: Any = None
        self._lock = threading.Lock()
        self._data_lock = threading.Lock()  # the pieces, their tempos and the repetition, read once
        self._pieces: list[tuple[str, np.ndarray]] | None = None
        self._tempos: list[float] = []
        self._origins: list[tuple[str, int]] = []  # each piece's split and place in it (its tempo map's key)
        self._maps: runs.StoreTempoMaps | None = None  # a store run's pieces' tempo maps, in its store
        self._n_held_out = 0
        self._repetition: float | None = None

    # ------------------------------------------------------------ the model

    @property
    def model(self) -> Any:
        """The run's best model (model.keras), loaded once with ``safe_mode=True``."""
        with self._lock:
            if self._model is None:
                self._model = runs.load_run_model(self.run.path, "best")
            return self._model

    # ------------------------------------------------------------ seeds

    def pieces(self) -> list[tuple[str, np.ndarray]]:
        """(label, token ids) of the run's pieces: held-out ones first, then training ones."""
        with self._data_lock:  # sessions opening the page together read them once, and see them whole
            if self._pieces is None:
                stored = runs.load_dataset(self.run.path)
                names, tempos = runs.piece_names(self.run.path), runs.piece_tempos(self.run.path)
                out, beats, origins = [], [], []
                for split, seqs, label in (("val", stored.val, "held-out"), ("train", stored.train, "training")):
                    given, beat = names.get(split, []), tempos.get(split, [])
                    for i, ids in enumerate(seqs):
                        if len(ids) > 1:
                            out.append((f"{label}: {given[i]}" if i < len(given) else f"{label} piece {i + 1}", ids))
                            beats.append(beat[i] if len(beat) == len(seqs) else self._default_tempo())
                            origins.append((split, i))
                self._tempos, self._n_held_out = beats, sum(1 for ids in stored.val if len(ids) > 1)
                self._origins = origins
                if not self.rep.fixed_tempo:  # decoded beats are the source's: its tempo changes hold
                    self._maps = runs.store_tempo_maps(self.run.path)
                self._pieces = out
            return self._pieces

    def seed_from_piece(self, index: int, start: int = 0, length: int = 64) -> Seed:
        """Tokens ``start`` .. ``start + length`` of piece ``index`` of :meth:`pieces`."""
        pieces = self.pieces()
        if not pieces:
            raise DatasetError(f"run {self.run.run_id} stores no pieces to take a seed from; upload a seed MIDI.")
        if not 0 <= index < len(pieces):
            raise ConfigError(f"piece index must be 0..{len(pieces) - 1}, got {index}.")
        return self._stored_seed(index, start, length)

    def random_seed(self, rng_seed: int | None = None, length: int = 64, *, held_out: bool = False) -> Seed:
        """A random passage of ``length`` tokens from a random piece (the same ``rng_seed``, the same seed).

        With ``held_out`` only pieces the model never trained on are drawn from (when it has any).
        """
        pieces = self.pieces()
        if held_out and self._n_held_out:
            pieces = pieces[: self._n_held_out]
        if not pieces:
            raise DatasetError(f"run {self.run.run_id} stores no pieces to take a seed from; upload a seed MIDI.")
        rng = np.random.default_rng(rng_seed)
        index = int(rng.integers(len(pieces)))
        start = int(rng.integers(max(1, len(pieces[index][1]) - length + 1)))
        return self._stored_seed(index, start, length)

    def _stored_seed(self, index: int, start: int, length: int) -> Seed:
        """The seed of tokens ``start`` .. ``start + length`` of piece ``index``, at its piece's tempo; with the
        piece's tempo map where the run has it (a store run's timed pieces), the map's changes within the seed
        and the seed's own mean tempo, as a seed from a MIDI file has them."""
        label, ids = self.pieces()[index]
        seed = self._seed(ids, start, length, label, self._tempos[index])
        tempo_map = self._maps.tempo_map(*self._origins[index]) if self._maps is not None else None
        if tempo_map is None:
            return seed
        start = int(np.clip(start, 0, max(0, len(ids) - 1)))
        begin = self.rep.time_cursor(np.asarray(ids[:start]))  # the seed's first beat in its piece
        piece = Piece("", np.zeros((0, 4)), float(tempo_map[0, 1]), tempo_map)
        end = begin + max(seed.end_beats, 1e-6)
        seed.tempo = seed.piece.tempo = round(self.rep.playback_tempo(piece, begin, end), 2)
        later = tempo_map[tempo_map[:, 0] > begin] - [begin, 0.0]
        seed.piece.tempo_map = tempo_changes(np.vstack([[0.0, piece.tempo_at(begin)], later]), seed.end_beats)
        return seed

    def seed_from_midi(self, data: bytes, name: str, length: int = 64) -> Seed:
        """The first ``length`` tokens of an uploaded MIDI file, read with the run's data settings.

        When the file's notes lie outside what the model knows (a classic vocabulary's pitches, the
        88 keys of a piano roll), it is moved by whole octaves to where the most of them fit, and the
        label says so; a file of which the model knows nothing at all is refused with a message.
        """
        piece = read_midi_bytes(data, name, self.config.data)
        shift, known, total = self._best_octave(piece, length)
        if total and not known:
            raise MidiReadError(
                f"{name}: none of its first {total} notes or chords is one this model knows "
                f"({self._known_range()}), in any octave; pick a seed closer to the music it trained on."
            )
        if shift:
            piece = piece.transposed(shift)
        ids = self.rep.encode(piece)
        if len(ids) < self.rep.min_seed:  # a token seed is <bos> plus at least one token
            raise MidiReadError(f"{name}: no notes this model can read; try another seed file.")
        label = f"uploaded: {name}"
        if shift:
            octaves = abs(shift) // 12
            label += f" (moved {'up' if shift > 0 else 'down'} {octaves} octave{'s' * (octaves > 1)} to fit the model)"
        if known < total:
            label += f" ({total - known} of its first {total} events unknown to the model)"
        seed = self._seed(ids, 0, length, label)
        seed.tempo = round(self.rep.playback_tempo(piece, 0.0, max(seed.end_beats, 1e-6)), 2)  # over the seed itself
        seed.piece.tempo = seed.tempo
        if not self.rep.fixed_tempo:  # the seed's beats are the file's (from 0): its tempo changes hold
            seed.piece.tempo_map = tempo_changes(piece.tempo_map, seed.end_beats)
        return seed

    def _default_tempo(self) -> float:
        """The tempo of seeds from a run that recorded none: the page's default, or a fixed decoding tempo."""
        return float(self.rep.fixed_tempo or DEFAULT_TEMPO)

    def _best_octave(self, piece: Piece, length: int) -> tuple[int, int, int]:
        """(semitones, known, total): the octave shift under which the model knows most of the
        seed's first ``length`` onsets (ties go to the smallest shift), and how many it knows."""
        starts = np.unique(piece.notes[:, START])
        head = piece
        if len(starts) > length:
            head = Piece(piece.name, piece.notes[piece.notes[:, START] < starts[length]], piece.tempo)

        def score(shift: int) -> tuple[int, int]:
            return self.rep.known(head.transposed(shift) if shift else head)  # notes pushed off 0-127 go

        known, total = score(0)
        best = (0, known, total)
        if known < total:
            for shift in sorted((12 * k for k in range(-5, 6) if k), key=abs):
                k, t = score(shift)
                if k > best[1]:
                    best = (shift, k, t)
        return best

    def _known_range(self) -> str:
        """The pitches the model knows, for messages: 'pitches C2-A5' or 'the 88 piano keys'."""
        return self.rep.known_range()

    def _seed(self, ids: np.ndarray, start: int, length: int, label: str, tempo: float = DEFAULT_TEMPO) -> Seed:
        if length < 1:
            raise ConfigError(f"the seed needs at least one token, got {length}.")
        start = int(np.clip(start, 0, max(0, len(ids) - 1)))
        window = np.asarray(ids[start : start + length])
        piece = self.rep.decode(window, "seed")
        piece.tempo = float(tempo)
        where = f"{self.rep.units} {start}-{start + len(window)}"
        return Seed(window, piece, self.rep.time_cursor(window), f"{label}, {where}", float(tempo))

    def _decode(self, ids: np.ndarray, name: str) -> Piece:
        """Notes of generated or stored ids (frames for a piano-roll run)."""
        return self.rep.decode(ids, name)

    # ------------------------------------------------------------ generation

    def compose(
        self,
        seed: Seed,
        sampling: SamplingConfig,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        limits: Limits | None = None,
        constraints: ConstraintConfig | None = None,
        on_wait: Callable[[int], None] | None = None,
    ) -> Composition:
        """Sample ``sampling.variations`` continuations of ``seed``, ``sampling.length`` tokens each, keeping
        to ``constraints`` when given (:mod:`musegen.steering.constraints`). While other sessions hold every
        generation slot, ``on_wait(ahead)`` is told how many go first (:mod:`musegen.slots`)."""
        limits = limits or Limits.from_env()
        sampling.validate(max_length=limits.max_generation_length)
        if constraints is not None:
            self.rep.constraint(constraints, 1)  # a wrong key or range fails before the model loads
        if sampling.motif_memory is None:
            sampling = replace(sampling, motif_memory=self.motif_strength())
        model = self.model
        with GENERATION.held(on_wait):
            t0 = time.perf_counter()
            outputs = generate_with(
                model, self.rep, seed.ids, sampling, on_progress=on_progress, constraints=constraints
            )
        continuations = [self._decode(ids, f"variation {i + 1}") for i, ids in enumerate(outputs)]
        for piece in continuations:
            piece.tempo = seed.tempo
        return Composition(
            seed=seed,
            continuations=continuations,
            sampling=sampling,
            run_id=self.run.run_id,
            seconds=time.perf_counter() - t0,
            token_counts=[len(ids) for ids in outputs],
            constraints=constraints,
        )

    @property
    def can_infill(self) -> bool:
        """Whether this run was trained to fill in a passage (see :meth:`infill`)."""
        return self.rep.can_infill(self.config.model)

    def infill(
        self,
        piece: Piece,
        start: float,
        end: float,
        sampling: SamplingConfig,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        limits: Limits | None = None,
        constraints: ConstraintConfig | None = None,
        on_wait: Callable[[int], None] | None = None,
    ) -> Infilling:
        """Regenerate beats [start, end) of ``piece``, ``sampling.variations`` times: each middle leads from
        what precedes and into what follows (the run's fill-in-the-middle training), its notes begin inside
        the span and its time adds up to where the rest resumes. ``sampling.length`` caps a middle's tokens.
        """
        limits = limits or Limits.from_env()
        sampling.validate(max_length=limits.max_generation_length)
        self.rep.check_infill(self.config.model)
        plan = self.rep.infill_plan(piece, start, end, self.config.data.window)
        constraint = self.rep.constraint(constraints, sampling.variations, plan)
        model = self.model
        with GENERATION.held(on_wait):
            t0 = time.perf_counter()
            outputs = generate(
                model, plan.prompt, sampling, self.rep.infill_sample, on_progress=on_progress, constraint=constraint
            )
        middles = [self.rep.decode_middle(ids, plan, f"variation {i + 1}") for i, ids in enumerate(outputs)]
        pieces = [
            join(piece, plan.start, plan.end, m, f"{piece.name} ({plan.where} new, v{i + 1})")
            for i, m in enumerate(middles)
        ]
        end_id = (self.vocab.fim_ids() or (-1,) * 4)[3]
        counts = [int(np.argmax(ids == end_id)) if (ids == end_id).any() else len(ids) for ids in outputs]
        return Infilling(
            plan, middles, pieces, sampling, self.run.run_id, time.perf_counter() - t0, counts, constraints
        )

    def training_pieces(self) -> list[Piece]:
        """The pieces the model trained on, as notes (for the originality check,
        :mod:`musegen.metrics.originality`), named as in the dataset."""
        return [
            Piece(label.removeprefix("training: "), self._decode(ids, label).notes)
            for label, ids in self.pieces()
            if label.startswith("training")
        ]

    def tokens_for_seconds(self, seconds: float, tempo: float, limits: Limits | None = None) -> int:
        """Tokens to generate for about ``seconds`` of music at ``tempo``: the run's pieces' tokens
        per beat, with a margin (trim the result with :meth:`Composition.trimmed`)."""
        if seconds <= 0:
            raise ConfigError(f"seconds must be positive, got {seconds}.")
        limits = limits or Limits.from_env()
        rate = self.rep.tokens_per_beat([ids for _, ids in self.pieces()[:50]])
        wanted = int(np.ceil(1.25 * rate * seconds * tempo / 60.0)) + 8
        return min(wanted, limits.max_generation_length)

    def figure_repetition(self) -> float:
        """How little the run's music repeats its figures: the mean
        :func:`~musegen.metrics.music.figure_repetition` of up to 64 of its pieces (1 = never); cached."""
        pieces = self.pieces()
        with self._data_lock:
            if self._repetition is None:
                # the openings are enough: figure_repetition reads 300 notes, fewer than 3,000 tokens hold
                openings = [self._decode(ids[:3000], label) for label, ids in pieces[:64]]
                found = [figure_repetition(p) for p in openings if p.n_notes]
                self._repetition = float(np.mean(found)) if found else 1.0
            return self._repetition

    def motif_strength(self) -> float:
        """The motif memory that suits this run's music (``SamplingConfig.motif_memory=None`` uses it): from
        :meth:`figure_repetition` (:func:`~musegen.steering.motif.suggested_strength`); 0 where the
        representation has no motif memory (piano-roll frames)."""
        if self.rep.motif_skip_ids() is None:
            return 0.0
        return suggested_strength(self.figure_repetition())

    def reference_pieces(self, limit: int = 24) -> list[Piece]:
        """Real pieces to compare generated music with: held-out ones first, decoded from tokens."""
        out = []
        for label, ids in self.pieces()[:limit]:
            piece = self._decode(ids, label)
            if piece.n_notes:
                out.append(piece)
        return out
