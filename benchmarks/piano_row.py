"""One row of the piano table: the row's model and data settings, its training (or a kept run reused),
and the held-out seeds it continues.

:func:`run_row` is what :mod:`benchmarks.bench_piano` calls, in this process or in a spawned worker
(its arguments and result are plain values); see that module's docstring for the method.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.piano_data import SPLIT_SEED, VAL_FRACTION, dynamic_ranges, held_out_names, load_pieces, seed_piece

# training window in tokens (0 = the training benchmark's 128); the WaveNet's dilations then reach across it
WINDOW = int(os.environ.get("BENCH_PIANO_WINDOW", "0"))
FIM = float(os.environ.get("BENCH_PIANO_FIM", "0"))  # share of fill-in-the-middle windows (0: plain continuation)
INFILL_BEATS = 4.0  # spans scored with and without their suffix when a row learned to infill
ARCHS = ("wavenet", "lstm")
EXTRA_ARCHS = ("transformer",)  # the backbone benchmark's CPU-sized Transformer: only when named in --rows
# variant -> (velocity tokens, sustain pedal on reading)
VARIANTS = {"default": (True, True), "no-velocity": (False, True), "no-pedal": (True, False), "plain": (False, False)}
ROWS = tuple(f"{arch}-{variant}" for arch in ARCHS for variant in VARIANTS)
EXTRA_ROWS = tuple(f"{arch}-{variant}" for arch in EXTRA_ARCHS for variant in VARIANTS)
DEFAULT_ROWS = tuple(f"{arch}-default" for arch in ARCHS)


@dataclass(frozen=True)
class Row:
    """One row of the table: a model and what it reads."""

    name: str  # e.g. "wavenet-default"
    arch: str
    velocity: bool
    pedal: bool
    representation: str

    @property
    def label(self) -> str:
        return self.name if self.representation == "timed" else f"{self.name} ({self.representation})"


def parse_rows(text: str | None, representation: str = "timed") -> list[Row]:
    """Rows named in ``text`` (comma-separated; all of :data:`ROWS` when empty, or the default rows for a
    representation other than timed); ValueError naming the choices for an unknown one."""
    if text:
        names = [n.strip() for n in text.split(",") if n.strip()]
    else:
        names = list(ROWS if representation == "timed" else DEFAULT_ROWS)
    unknown = [n for n in names if n not in ROWS + EXTRA_ROWS]
    if unknown:
        raise ValueError(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS + EXTRA_ROWS)}.")
    rows = []
    for name in dict.fromkeys(names):
        arch, _, variant = name.partition("-")
        velocity, pedal = VARIANTS[variant]
        rows.append(Row(name, arch, velocity, pedal, representation))
    return rows


def run_config(row: Row, minutes: float) -> Any:
    """The row's RunConfig: the training benchmark's model and settings (the backbone benchmark's for the
    Transformer), the row's data settings."""
    from benchmarks.bench_backbones import CONFIGS

    cfg = copy.deepcopy(CONFIGS[row.arch])
    cfg.data.representation = row.representation
    cfg.data.velocity = row.velocity
    cfg.data.sustain_pedal = row.pedal
    cfg.data.val_fraction = VAL_FRACTION
    cfg.data.split_seed = SPLIT_SEED
    cfg.train.max_minutes = minutes
    cfg.data.fim_rate = FIM
    if WINDOW:
        cfg.data.window, cfg.data.stride = WINDOW, max(1, WINDOW // 2)
        cfg.model.dilation_cycle = max(cfg.model.dilation_cycle, math.ceil(math.log2(WINDOW)))  # field >= window
    return cfg


def sampling_used(sampling: dict[str, Any] | None) -> dict[str, Any]:
    """The temperature and top-k that ``sampling``'s overrides make of the app's defaults."""
    from musegen.config import SamplingConfig

    cfg = SamplingConfig(**(sampling or {}))
    return {
        "temperature": cfg.temperature,
        "top_k": cfg.top_k,
        "duration_temperature": cfg.duration_temperature,
        "motif_memory": cfg.motif_memory,
    }


def generate_row(
    row: Row,
    run_dir: Path,
    pieces: list[Any],
    held: list[str],
    n_pieces: int,
    seconds: float,
    sampling: dict[str, Any],
    say: Any,
    keep: bool = False,
    seed_offset: int = 0,
) -> tuple[list[Any], float, Any]:
    """Continue ``n_pieces`` held-out seeds with the run's model: the generated excerpts, the seconds it took
    and the Composer. ``sampling`` overrides SamplingConfig's defaults (the app's) for every piece; piece
    ``k`` samples with random seed ``k + seed_offset``."""
    from musegen.config import SamplingConfig, clamp_tempo
    from musegen.generation.compose import Composer
    from musegen.metrics.music import excerpt
    from musegen.output.midi import midi_bytes, piece_to_midi

    composer = Composer(run_dir)
    by_name = {p.name: p for p in pieces}
    generated, t0 = [], time.perf_counter()
    for k in range(n_pieces):
        source = by_name[held[k % len(held)]]
        opening = seed_piece(source)
        tempo = clamp_tempo(source.tempo)
        data = midi_bytes(piece_to_midi(opening, tempo=tempo))
        seed = composer.seed_from_midi(data, f"{source.name}.mid", length=100_000)
        length = composer.tokens_for_seconds(seconds, seed.tempo)
        cfg = SamplingConfig(**{"length": length, "seed": k + seed_offset, **sampling})
        piece = composer.compose(seed, cfg).continuations[0]
        generated.append(excerpt(piece, 0.0, seconds, name=f"{row.name} {k + 1}: after {source.name}"))
        if keep:  # to listen to what the table scores
            (Path(run_dir) / "generated").mkdir(exist_ok=True)
            (Path(run_dir) / "generated" / f"{k + 1:02d}.mid").write_bytes(
                midi_bytes(piece_to_midi(piece, tempo=seed.tempo))
            )
        say(f"generated {k + 1}/{n_pieces}: {piece.n_notes} notes, {cfg.length} tokens")
    return generated, time.perf_counter() - t0, composer


@dataclass(frozen=True)
class Trained:
    """What a row's training left: the figures the table reports beside the music."""

    train_s: float
    epochs: int
    best_epoch: int | None
    state: str
    metrics: dict[str, Any]


def run_row(
    row: Row,
    minutes: float,
    n_pieces: int,
    seconds: float,
    folder: str,
    threads: int = 0,
    sampling: dict[str, Any] | None = None,
    reuse: bool = False,
    keep: bool = False,
    seed_offset: int = 0,
) -> dict[str, Any]:
    """Train the row's model (or, with ``reuse``, take the one already in ``folder``), continue the
    held-out seeds, render the results; a plain dict (it crosses a process boundary) with the generated
    pieces, the training figures and the dynamic ranges."""
    if threads:
        os.environ["MUSEGEN_TF_THREADS"] = str(threads)
    from musegen.datasets.dataset import build_dataset

    def say(text: str) -> None:
        print(f"  [{row.label}] {text}", flush=True)

    cfg = run_config(row, minutes)
    pieces = load_pieces(row.pedal)
    held = held_out_names([p.name for p in pieces])
    dataset = build_dataset(pieces, cfg.data)
    if sorted(dataset.val_names) != sorted(held):
        say(f"warning: the dataset held out {len(dataset.val_names)} other pieces than the fixed split")
    say(f"{len(dataset.train)} training pieces ({dataset.n_train_tokens:,} tokens), {len(dataset.val)} held out")
    name = f"{row.name}-{row.representation}"
    if reuse:  # a run kept by an earlier --keep: its model, figures and history as they were
        run_dir, trained = Path(folder) / name, reused(Path(folder) / name, folder, say)
    else:
        run_dir, trained = train_row(cfg, dataset, folder, name, say)
    generated, gen_s, composer = generate_row(
        row, run_dir, pieces, held, n_pieces, seconds, sampling or {}, say, keep, seed_offset
    )
    result = row_result(row, dataset, trained, (generated, gen_s, composer), sampling_used(sampling))
    if composer.can_infill:
        result["infill"] = infill_scores(composer, [p for p in pieces if p.name in set(held)], say)
    return result


def infill_scores(composer: Any, held_out: list[Any], say: Any) -> dict[str, Any]:
    """The true middles of spans of the held-out pieces scored with and without their suffix
    (:func:`musegen.evaluation.infilling.suffix_benefit`, 2 spans of :data:`INFILL_BEATS` beats per piece)."""
    from musegen.evaluation.infilling import suffix_benefit

    r = suffix_benefit(composer.model, composer.rep, held_out, composer.config.data.window, span_beats=INFILL_BEATS)
    say(f"infilling: NLL {r.with_suffix:.3f} with the suffix, {r.without_suffix:.3f} without ({r.spans} spans)")
    return r.to_dict()


def reused(run_dir: Path, folder: str, say: Any) -> Trained:
    """The figures of a run kept by an earlier ``--keep`` in ``run_dir``."""
    from musegen import runs

    if not (run_dir / "status.json").is_file():
        raise FileNotFoundError(f"no kept run {run_dir}: run the row once with --keep {folder}")
    history, metrics_file = runs.read_history(run_dir), runs.read_metrics(run_dir)
    status = runs.read_status(run_dir)
    train_s = float(history.epochs[-1].elapsed_s) if history.epochs else 0.0
    trained = Trained(
        train_s,
        history.epochs_done,
        history.best_epoch,
        str(status.get("state", "")),
        metrics_file.to_dict() if metrics_file else {},
    )
    say(f"reusing {run_dir}: {trained.epochs} epochs, {trained.state}")
    return trained


def train_row(cfg: Any, dataset: Any, folder: str, name: str, say: Any) -> tuple[Path, Trained]:
    """Train the row's model in a new run folder ``folder/name``: the folder and its figures."""
    from musegen import runs
    from musegen.training.loop import train

    run_dir = runs.create_run(folder, cfg, dataset.vocab, name=name, overwrite=True)

    def progress(event: Any) -> None:
        if event.kind == "epoch":
            loss = "n/a" if event.val_loss is None else f"{event.val_loss:.3f}"
            say(f"epoch {event.epoch}: held-out loss {loss}, {event.elapsed_s:.0f} s")

    t0 = time.perf_counter()
    result = train(cfg, dataset, run_dir, on_progress=progress)
    train_s = time.perf_counter() - t0
    metrics = result.metrics.to_dict() if result.metrics else {}
    say(f"{result.status} after {result.epochs_done} epochs, {train_s:.0f} s ({result.message})")
    return run_dir, Trained(train_s, result.epochs_done, result.best_epoch, result.status, metrics)


def row_result(
    row: Row, dataset: Any, trained: Trained, generation: tuple[list[Any], float, Any], used: dict[str, Any]
) -> dict[str, Any]:
    """The row's plain dict: its settings, training figures, generated pieces and their dynamic ranges."""
    generated, gen_s, composer = generation
    ranges, engine = dynamic_ranges(generated)
    return {
        "row": row.name,
        "label": row.label,
        "arch": row.arch,
        "representation": row.representation,
        "velocity": row.velocity,
        "sustain_pedal": row.pedal,
        "params": int(composer.model.count_params()),
        "epochs": trained.epochs,
        "best_epoch": trained.best_epoch,
        "train_s": round(trained.train_s, 1),
        "generate_s": round(gen_s, 1),
        "status": trained.state,
        "sampling": used,
        # the strength generation used: the run's suggestion (Composer.motif_strength) unless given
        "motif_memory": composer.motif_strength() if used["motif_memory"] is None else used["motif_memory"],
        "figure_repetition": round(composer.figure_repetition(), 3),
        "val_nll": trained.metrics.get("model", {}).get("nll"),
        "ngram_nll": trained.metrics.get("baseline", {}).get("nll"),
        "train_tokens": dataset.n_train_tokens,
        "vocab_size": len(dataset.vocab),
        "generated": generated,
        "dynamic_ranges": ranges,
        "engine": engine,
        # seconds of music each generated piece covers (its last note's end): under ``seconds`` when the model
        # stopped short, which moves the length-sensitive features
        "generated_seconds": [round(float(p.seconds(p.length_beats)), 2) for p in generated],
    }
