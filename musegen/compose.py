"""Generate music from a run folder: pick a seed, sample continuations, get note events back.

A :class:`Composer` wraps one run (config, vocabulary, stored token data, and the model,
loaded with TensorFlow only when the first piece is generated). Seeds come from the run's
own pieces (``data.npz``; held-out pieces first), at random, or from an uploaded MIDI file;
a seed shorter than the model's context is simply a shorter context. :meth:`Composer.compose`
returns a :class:`Composition`: the seed and one continuation per variation as
:class:`~musegen.notes.Piece` objects, with the beat where the continuations begin.

Piano-roll runs work the same way with frames in place of tokens: a seed is a run of (T, 88)
frames, "tokens" counts frames, and each key of a new frame is drawn on its own
(:func:`musegen.pianoroll.generate_frames`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musegen import runs
from musegen.config import Limits, SamplingConfig
from musegen.errors import ConfigError, DatasetError, MidiReadError
from musegen.notes import PITCH, START, Piece, make_notes
from musegen.pianoroll import LOWEST_PITCH, N_KEYS, frames_to_piece, generate_frames, piece_to_frames
from musegen.tokens import CLASSIC_STEP, Vocabulary, parse_pitch_name, pitch_name, tokenizer_for_vocab

__all__ = ["Composer", "Composition", "Seed"]


@dataclass
class Seed:
    """The passage a model continues: token ids, the same as notes, and where it ends."""

    ids: np.ndarray  # int32 token ids fed to the model ((T, 88) frames for a piano-roll run)
    piece: Piece  # the seed as notes, times from 0
    end_beats: float  # where a continuation begins (the seed's time cursor, not its last note-off)
    label: str  # for people: "held-out piece 3, tokens 0-64"


@dataclass
class Composition:
    """A seed and its continuations (each timed from 0; they start at ``seed.end_beats``)."""

    seed: Seed
    continuations: list[Piece]
    sampling: SamplingConfig
    run_id: str
    seconds: float  # wall time of the generation
    token_counts: list[int] = field(default_factory=list)  # tokens generated per variation

    def joined(self, i: int) -> Piece:
        """Seed and continuation ``i`` as one piece (the continuation shifted to the seed's end)."""
        cont = self.continuations[i].notes.copy()
        cont[:, :2] += self.seed.end_beats
        notes = make_notes(np.concatenate([self.seed.piece.notes, cont]))
        return Piece(self.continuations[i].name, notes, self.continuations[i].tempo)

    def trimmed(self, seconds: float, tempo: float) -> Composition:
        """A copy whose continuations stop after ``seconds`` at ``tempo`` (notes cut at the end)."""
        end = seconds * tempo / 60.0
        cut = []
        for piece in self.continuations:
            notes = piece.notes[piece.notes[:, 0] < end].copy()
            notes[:, 1] = np.minimum(notes[:, 1], end)
            cut.append(Piece(piece.name, notes, piece.tempo))
        return Composition(self.seed, cut, self.sampling, self.run_id, self.seconds, self.token_counts)

    def midi(self, i: int, *, tempo: float = 100.0, program: int = 0, include_seed: bool = True) -> Any:
        """A PrettyMIDI of continuation ``i``; the seed on its own track named "seed" when included."""
        from musegen.midi_out import piece_to_midi

        return piece_to_midi(
            self.continuations[i],
            tempo=tempo,
            program=program,
            seed_piece=self.seed.piece,
            include_seed=include_seed,
            seed_offset=self.seed.end_beats,
        )


class Composer:
    """Generation from one run folder. Thread-safe; the model loads on first use."""

    def __init__(self, run_dir: str | Path):
        self.run = runs.load_run(run_dir)
        if self.run.config is None:
            raise DatasetError(f"run {self.run.run_id} has no readable config.json; retrain it.")
        self.config = self.run.config
        self.vocab: Vocabulary = self.run.vocab()
        self.tokenizer = tokenizer_for_vocab(self.vocab)
        self.frames = self.vocab.representation == "pianoroll"  # (T, 88) frames instead of token ids
        self._model: Any = None
        self._lock = threading.Lock()
        self._pieces: list[tuple[str, np.ndarray]] | None = None
        self._n_held_out = 0

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
        if self._pieces is None:
            stored = runs.load_dataset(self.run.path)
            names = runs.piece_names(self.run.path)
            out = []
            for split, seqs, label in (("val", stored.val, "held-out"), ("train", stored.train, "training")):
                for i, ids in enumerate(seqs):
                    if len(ids) > 1:
                        given = names.get(split, [])
                        out.append((f"{label}: {given[i]}" if i < len(given) else f"{label} piece {i + 1}", ids))
            self._pieces = out
            self._n_held_out = sum(1 for ids in stored.val if len(ids) > 1)
        return self._pieces

    def seed_from_piece(self, index: int, start: int = 0, length: int = 64) -> Seed:
        """Tokens ``start`` .. ``start + length`` of piece ``index`` of :meth:`pieces`."""
        pieces = self.pieces()
        if not pieces:
            raise DatasetError(f"run {self.run.run_id} stores no pieces to take a seed from; upload a seed MIDI.")
        if not 0 <= index < len(pieces):
            raise ConfigError(f"piece index must be 0..{len(pieces) - 1}, got {index}.")
        label, ids = pieces[index]
        return self._seed(ids, start, length, label)

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
        ids = pieces[index][1]
        start = int(rng.integers(max(1, len(ids) - length + 1)))
        return self._seed(ids, start, length, pieces[index][0])

    def seed_from_midi(self, data: bytes, name: str, length: int = 64) -> Seed:
        """The first ``length`` tokens of an uploaded MIDI file, read with the run's data settings.

        When the file's notes lie outside what the model knows (a classic vocabulary's pitches, the
        88 keys of a piano roll), it is moved by whole octaves to where the most of them fit, and the
        label says so; a file of which the model knows nothing at all is refused with a message.
        """
        from musegen.ingest import read_midi_bytes

        piece = read_midi_bytes(data, name, self.config.data)
        shift, known, total = self._best_octave(piece, length)
        if total and not known:
            raise MidiReadError(
                f"{name}: none of its first {total} notes or chords is one this model knows "
                f"({self._known_range()}), in any octave; pick a seed closer to the music it trained on."
            )
        if shift:
            piece = piece.transposed(shift)
        if self.frames:
            ids = piece_to_frames(piece, self._steps_per_beat())
        else:
            tokens = self.tokenizer.tokenize(piece)
            ids = np.concatenate([[self.vocab.bos_id], self.vocab.encode(tokens)]).astype(np.int32)
        if len(ids) < (1 if self.frames else 2):  # a token seed is <bos> plus at least one token
            raise MidiReadError(f"{name}: no notes this model can read; try another seed file.")
        label = f"uploaded: {name}"
        if shift:
            octaves = abs(shift) // 12
            label += f" (moved {'up' if shift > 0 else 'down'} {octaves} octave{'s' * (octaves > 1)} to fit the model)"
        if known < total:
            label += f" ({total - known} of its first {total} events unknown to the model)"
        return self._seed(ids, 0, length, label)

    def _best_octave(self, piece: Piece, length: int) -> tuple[int, int, int]:
        """(semitones, known, total): the octave shift under which the model knows most of the
        seed's first ``length`` onsets (ties go to the smallest shift), and how many it knows."""
        starts = np.unique(piece.notes[:, START])
        head = piece
        if len(starts) > length:
            head = Piece(piece.name, piece.notes[piece.notes[:, START] < starts[length]], piece.tempo)

        def score(shift: int) -> tuple[int, int]:
            moved = head.transposed(shift) if shift else head  # notes pushed off 0-127 are dropped
            if self.frames:
                pitches = moved.notes[:, PITCH]
                return int(np.sum((pitches >= LOWEST_PITCH) & (pitches < LOWEST_PITCH + N_KEYS))), len(head.notes)
            ids = self.vocab.encode(self.tokenizer.tokenize(moved))
            return int(np.sum(ids != self.vocab.unk_id)), len(ids)

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
        if self.frames:
            return "the 88 piano keys"
        midis = [m for m in (parse_pitch_name(t) for t in self.vocab.tokens) if m is not None]
        if not midis:
            return "no single pitches, only chords"
        return f"pitches {pitch_name(min(midis))}-{pitch_name(max(midis))}"

    def _seed(self, ids: np.ndarray, start: int, length: int, label: str) -> Seed:
        if length < 1:
            raise ConfigError(f"the seed needs at least one token, got {length}.")
        start = int(np.clip(start, 0, max(0, len(ids) - 1)))
        if self.frames:
            frames = np.asarray(ids[start : start + length], dtype=np.uint8)
            spb = self._steps_per_beat()
            piece = frames_to_piece(frames, spb, "seed")
            return Seed(frames, piece, len(frames) / spb, f"{label}, frames {start}-{start + len(frames)}")
        window = np.asarray(ids[start : start + length], dtype=np.int32)
        tokens = self.vocab.decode(window)
        piece = self.tokenizer.detokenize(tokens, name="seed")
        return Seed(window, piece, _time_cursor(tokens, self.vocab), f"{label}, tokens {start}-{start + len(window)}")

    def _steps_per_beat(self) -> int:
        return int(self.vocab.meta.get("steps_per_beat", self.config.data.steps_per_beat))

    def _decode(self, ids: np.ndarray, name: str) -> Piece:
        """Notes of generated or stored ids (frames for a piano-roll run)."""
        if self.frames:
            return frames_to_piece(np.asarray(ids, np.uint8), self._steps_per_beat(), name)
        return self.tokenizer.detokenize(self.vocab.decode(ids), name=name)

    # ------------------------------------------------------------ generation

    def compose(
        self,
        seed: Seed,
        sampling: SamplingConfig,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        limits: Limits | None = None,
    ) -> Composition:
        """Sample ``sampling.variations`` continuations of ``seed``, ``sampling.length`` tokens each."""
        from musegen.generation import generate_ids

        limits = limits or Limits.from_env()
        sampling.validate(max_length=limits.max_generation_length)
        model = self.model
        t0 = time.perf_counter()
        generate = generate_frames if self.frames else generate_ids
        outputs = generate(model, seed.ids, sampling, on_progress=on_progress)
        continuations = [self._decode(ids, f"variation {i + 1}") for i, ids in enumerate(outputs)]
        return Composition(
            seed=seed,
            continuations=continuations,
            sampling=sampling,
            run_id=self.run.run_id,
            seconds=time.perf_counter() - t0,
            token_counts=[len(ids) for ids in outputs],
        )

    def tokens_for_seconds(self, seconds: float, tempo: float, limits: Limits | None = None) -> int:
        """Tokens to generate for about ``seconds`` of music at ``tempo``: the run's pieces' tokens
        per beat, with a margin (trim the result with :meth:`Composition.trimmed`)."""
        if seconds <= 0:
            raise ConfigError(f"seconds must be positive, got {seconds}.")
        limits = limits or Limits.from_env()
        rate = 1.0 / CLASSIC_STEP
        if self.frames:
            rate = float(self._steps_per_beat())
        elif self.vocab.representation != "classic":
            tokens = beats = 0.0
            for _, ids in self.pieces()[:50]:
                decoded = self.vocab.decode(ids)
                tokens += len(decoded)
                beats += _time_cursor(decoded, self.vocab)
            rate = tokens / beats if beats else 8.0
        wanted = int(np.ceil(1.25 * rate * seconds * tempo / 60.0)) + 8
        return min(wanted, limits.max_generation_length)

    def reference_pieces(self, limit: int = 24) -> list[Piece]:
        """Real pieces to compare generated music with: held-out ones first, decoded from tokens."""
        out = []
        for label, ids in self.pieces()[:limit]:
            piece = self._decode(ids, label)
            if piece.n_notes:
                out.append(piece)
        return out


def _time_cursor(tokens: list[str], vocab: Vocabulary) -> float:
    """Beats from the start of ``tokens`` to where the next event would be placed."""
    if vocab.representation == "classic":
        return len(tokens) * CLASSIC_STEP  # the classic decoder places token i at i * CLASSIC_STEP
    steps = sum(int(t.rpartition("_")[2]) for t in tokens if t.startswith("TimeShift_"))
    return steps / float(vocab.meta.get("steps_per_beat", 4))
