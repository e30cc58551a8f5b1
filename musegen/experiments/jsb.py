"""The JSB Chorales benchmark (and its siblings): musegen's piano-roll models beside the published table.

The models are the backbones (WaveNet, LSTM, Transformer) with either output head: independent
keys (``wavenet``, ``lstm``) or the NADE over the keys (``lstm-nade``, ``wavenet-nade``,
``transformer-nade``); :data:`SETTINGS` holds each one's settings.

:func:`run_benchmark` reads a polyphonic ``.mat`` (:func:`musegen.sources.mat.load_mat`), trains
each architecture on piano-roll frames with the very code a user's piano-roll run uses
(:func:`musegen.training.loop.train`), and scores it with :func:`musegen.scoring.floors.frame_nll`:

- the training ``window`` is the longest training or validation piece (so no piece is cut) when
  that is at most :data:`MAX_WINDOW` frames (JSB Chorales: 159), else :data:`MAX_WINDOW` frames
  every half of it (:func:`benchmark_window`): memory no longer grows with the longest piece;
- whole pieces, one per batch row, padded at the end with a padding mask, for every piece that
  fits; a longer one is cut into scoring windows whose first frames are context only
  (:func:`benchmark_scoring`), with a context of at least the WaveNet's receptive field, so the
  score is exactly that of the whole piece. The LSTM is always scored on whole pieces (its
  state runs through the piece); during training its validation windows of a longer piece give
  it at most the training window (and at least half of it) of context;
- the epoch is selected on ``validdata`` only (the run's best model by validation frame NLL,
  computed in as few batches as fit, so it is exact when they are one); every setting in
  :data:`SETTINGS` was chosen on ``validdata`` too (see BENCHMARKS.md);
- ``testdata`` is scored once, at the selected epoch, beside the two floors
  (:mod:`musegen.scoring.floors`) and the published numbers.

Each architecture trains within its own time budget (``minutes``), keeping the best epoch.
"""

from __future__ import annotations

import copy
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig, with_overrides
from musegen.datasets.dataset import SequenceDataset, transposed_copies
from musegen.errors import ConfigError
from musegen.experiments.memory import PeakMemory
from musegen.experiments.published import published, reference
from musegen.paths import PACKAGE_DATA
from musegen.representations.pianoroll import PianoRollRepresentation
from musegen.representations.registry import check
from musegen.scoring.floors import frame_nll, score_floors
from musegen.sources.mat import PolyphonicData, load_mat
from musegen.streams.frames import model_context, scoring_plan
from musegen.training.loop import train

# shipped inside the package (MIT licence, from the TCN repository; see musegen/data/JSB_Chorales.README.md
# and POLYPHONIC.README.md): the three sets of the family a fresh clone has, by the names --data takes
SETS = {
    "jsb": PACKAGE_DATA / "JSB_Chorales.mat",
    "musedata": PACKAGE_DATA / "MuseData.mat",
    "piano-midi": PACKAGE_DATA / "Piano_midi.mat",
}
DEFAULT_DATA = SETS["jsb"]
DEFAULT_MINUTES = 25.0  # per architecture; the goal is both within 30 minutes on a 2-core CPU
ARCHS = ("lstm-nade", "wavenet-nade", "wavenet", "lstm")  # the models of SETTINGS, both heads on both backbones
MAX_WINDOW = 512  # frames: the longest training window; sets of longer pieces are cut (JSB's longest is 159)

# The settings of each architecture, chosen on validdata with 5-minute trials (BENCHMARKS.md lists
# what was tried): heavy dropout, the training pieces in 12 keys, the rate halved on plateaus.
SETTINGS: dict[str, tuple[ModelConfig, TrainConfig, tuple[int, int]]] = {
    "wavenet": (
        ModelConfig(
            arch="wavenet", embed_dim=64, channels=80, skip_channels=128, kernel_size=2, dilation_cycle=6, dropout=0.5
        ),
        TrainConfig(epochs=1000, batch_size=8, learning_rate=1e-3, patience=20, lr_patience=4),
        (-5, 6),  # transposition of the training pieces, semitones
    ),
    "lstm": (
        ModelConfig(arch="lstm", embed_dim=88, units=200, layers=1, dropout=0.5),
        TrainConfig(epochs=1000, batch_size=8, learning_rate=3e-3, patience=20, lr_patience=4),
        (-5, 6),
    ),
    # the same backbones with the NADE head (musegen/models/nade.py): the keys of a frame drawn low to
    # high, each given the keys below it; lighter dropout (the head itself regularizes less than it fits)
    "lstm-nade": (
        ModelConfig(arch="lstm", embed_dim=88, units=200, layers=1, dropout=0.3, head="nade", nade_hidden=128),
        TrainConfig(epochs=1000, batch_size=8, learning_rate=3e-3, patience=10, lr_patience=3),
        (-5, 6),
    ),
    "wavenet-nade": (
        ModelConfig(
            arch="wavenet",
            embed_dim=64,
            channels=64,
            skip_channels=128,
            kernel_size=2,
            dilation_cycle=6,
            dropout=0.3,
            head="nade",
            nade_hidden=128,
        ),
        TrainConfig(epochs=1000, batch_size=8, learning_rate=1e-3, patience=10, lr_patience=3),
        (-5, 6),
    ),
    # the Transformer (issue 16) with the NADE head: two blocks of width 96 attending to the whole piece
    "transformer-nade": (
        ModelConfig(
            arch="transformer",
            embed_dim=96,
            d_model=96,
            heads=4,
            transformer_layers=2,
            ff_mult=4,
            dropout=0.2,
            head="nade",
            nade_hidden=128,
        ),
        TrainConfig(epochs=1000, batch_size=8, learning_rate=1e-3, patience=10, lr_patience=3),
        (-5, 6),
    ),
}

ProgressFn = Callable[[str, Any], None]  # (arch, training.ProgressEvent)


def resolve_data(data: str | Path | None) -> Path:
    """The .mat of ``data``: a set's name of :data:`SETS` (``jsb``, ``musedata``, ``piano-midi``), a path, or
    None for JSB Chorales. A path that is not there is left to :func:`load_mat`, which says so."""
    if data is None:
        return DEFAULT_DATA
    name = str(data).strip().lower().replace("_", "-")
    return SETS.get(name, SETS.get(name.removesuffix("-chorales"), Path(data)))


def benchmark_window(pieces: Sequence[Any]) -> tuple[int, int]:
    """(window, stride) of the training windows over ``pieces``: the longest piece's predicted frames when
    at most :data:`MAX_WINDOW` (one window a piece), else :data:`MAX_WINDOW` every half of it."""
    longest = max(len(p) for p in pieces) - 1
    return (longest, longest) if longest <= MAX_WINDOW else (MAX_WINDOW, MAX_WINDOW // 2)


def benchmark_scoring(config: RunConfig) -> tuple[int | None, int]:
    """(window, context) of :func:`frame_nll` for a model of ``config``: scoring windows of the training
    window plus the receptive field, with that field as context (exact) for a WaveNet or Transformer;
    (None, 0), whole pieces, for the LSTM."""
    if model_context(config.model, config.data.window) is None:
        return None, 0
    return scoring_plan(config.model, config.data.window)


def benchmark_config(arch: str, window: int, minutes: float, stride: int | None = None, **overrides: Any) -> RunConfig:
    """The run configuration of ``arch``: :data:`SETTINGS`, quarter-note frames, windows of ``window``
    frames every ``stride`` (default ``window``: whole pieces when ``window`` is the longest).

    ``overrides`` replace fields of the model or training settings by name (e.g. ``dropout=0.3``,
    ``epochs=2``), for trying settings on ``validdata``.
    """
    if arch not in SETTINGS:
        raise ConfigError(f"the benchmark trains {', '.join(SETTINGS)}; got {arch!r}.")
    model, train, transpose = copy.deepcopy(SETTINGS[arch])
    data = DataConfig(
        representation=PianoRollRepresentation.name,
        steps_per_beat=1,
        window=window,
        stride=stride or window,
        transpose=transpose,
    )
    model, train, rest = with_overrides(model, train, overrides, "benchmark", ("transpose",))
    data = replace(data, **{k: tuple(v) for k, v in rest.items()})
    train.max_minutes = float(minutes)
    config = RunConfig(data=data, model=model, train=train, dataset_name="")
    check(config)
    return config


def frame_dataset(data: PolyphonicData, config: DataConfig) -> SequenceDataset:
    """The benchmark's training and validation splits as a dataset :func:`musegen.training.loop.train` reads.

    Each training piece is there once: the training pipeline moves every example by every shift of
    ``config.transpose`` on the fly (``transposes_on_the_fly``); a representation without that
    gets the transposed copies instead. Validation and test pieces are never transposed.
    """
    rep = PianoRollRepresentation.from_config(config)
    sources = [(f"{data.name} train {i + 1}", None, piece) for i, piece in enumerate(data.train)]
    moved, moved_names, _ = transposed_copies(rep, sources, config.transpose)
    return SequenceDataset(
        vocab=rep.vocab,
        config=config,
        train=list(data.train) + moved,
        val=list(data.valid),
        train_names=[name for name, _, _ in sources] + moved_names,
        val_names=[f"{data.name} valid {i + 1}" for i in range(len(data.valid))],
    )


def run_benchmark(
    path: str | Path | None = None,
    archs: Sequence[str] = ARCHS,
    minutes: float = DEFAULT_MINUTES,
    *,
    runs_dir: str | Path | None = None,
    on_progress: ProgressFn | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train and score every architecture in ``archs`` on the ``.mat`` at ``path``; return the report.

    ``minutes`` is each architecture's training budget. With ``runs_dir`` the run folders are
    kept there (as ``<dataset>-<arch>``; the Generate page can play them); otherwise they go to
    a temporary folder that is removed. ``overrides`` go to :func:`benchmark_config`.
    """
    if minutes <= 0:
        raise ConfigError(f"minutes must be positive (the training budget per architecture), got {minutes}.")
    path = resolve_data(path)
    data = load_mat(path)
    window, stride = benchmark_window([*data.train, *data.valid])
    floors = {split: score_floors(data.train, pieces) for split, pieces in (("valid", data.valid), ("test", data.test))}
    report: dict[str, Any] = {
        "dataset": data.name,
        "data": str(path),
        "splits": data.summary(),
        "minutes_per_arch": minutes,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "scored": "mean over predicted frames (every frame after a piece's first) of the sum over 88 keys "
        "of the binary cross-entropy, nats",
        "published": [row.as_dict() for row in published(data.name)],
        "rnn_nade": reference(data.name),
        "floors": {name: {s: floors[s][name]["nll"] for s in floors} for name in ("bernoulli", "markov")},
        "models": [],
    }
    with tempfile.TemporaryDirectory(prefix="musegen-bench-") as tmp:
        folder = Path(runs_dir) if runs_dir is not None else Path(tmp)
        for arch in archs:
            config = benchmark_config(arch, window, minutes, stride, **overrides)
            config.dataset_name = data.name
            dataset = frame_dataset(data, config.data)
            run_dir = runs.create_run(folder, config, dataset.vocab, name=f"{data.name}-{arch}", overwrite=True)
            t0 = time.perf_counter()
            with PeakMemory() as memory:
                result = train(
                    config,
                    dataset,
                    run_dir,
                    on_progress=(lambda e, a=arch: on_progress(a, e)) if on_progress else None,
                    evaluate=runs_dir is not None,  # a kept run gets its metrics.json for the app
                )
                seconds = time.perf_counter() - t0
                model = runs.load_run_model(run_dir, "best")
                scoring = benchmark_scoring(config)
                valid, test = frame_nll(model, data.valid, *scoring), frame_nll(model, data.test, *scoring)
            entry = {"arch": arch, "parameters": int(model.count_params()), "valid_nll": valid["nll"]}
            report["models"].append(
                {
                    **entry,
                    "test_nll": test["nll"],
                    "test_accuracy": test["accuracy"],
                    "best_epoch": result.best_epoch,
                    "epochs": result.epochs_done,
                    "train_seconds": round(seconds, 1),
                    "peak_rss_mb": memory.peak_mb,
                    "stopped_by": result.message,
                    "settings": settings_entry(config, scoring),
                    "run_dir": str(run_dir) if runs_dir is not None else None,
                }
            )
    return report


def settings_entry(config: RunConfig, scoring: tuple[int | None, int]) -> dict[str, Any]:
    """What a model of the report was trained and scored with."""
    window, context = scoring
    return {
        "model": vars(config.model),
        "train": vars(config.train),
        "transpose": list(config.data.transpose),
        "window": config.data.window,
        "stride": config.data.stride,
        "scoring": "whole pieces"
        if window is None
        else f"whole pieces up to {window} frames, longer ones in windows of {window} frames "
        f"with {context} frames of context",
    }


def machine() -> str:
    """Cores and CPU model of this machine (the training times depend on it)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: keep platform's name
    return f"{os.cpu_count()} cores, {cpu}"


def format_report(report: dict[str, Any]) -> str:
    """The benchmark table in Markdown: musegen's models, the published ones and the floors."""
    lines = [
        f"{report['dataset']} on {report['machine']}, {report['date']}, at most {report['minutes_per_arch']:g} min "
        f"of training per model. NLL: {report['scored']}; lower is better.",
        "",
        "| model | parameters | valid NLL | test NLL | training | peak memory |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for m in report["models"]:
        lines.append(
            f"| musegen {m['arch']} | {m['parameters']:,} | {m['valid_nll']:.3f} | **{m['test_nll']:.3f}** | "
            f"{m['train_seconds'] / 60:.1f} min, best epoch {m['best_epoch']} of {m['epochs']} | "
            f"{m.get('peak_rss_mb', 0):,.0f} MB |"
        )
    for row in report["published"]:
        nll = f"{'≤ ' if row['kind'] == 'bound' else ''}{row['nll']:.2f}"
        lines.append(
            f"| {row['model']} ({row['source']}) | {row['parameters']} | | {nll} | published, {row['kind']} | |"
        )
    for name, label in (("bernoulli", "per-key Bernoulli floor"), ("markov", "per-key Markov floor")):
        f = report["floors"][name]
        lines.append(
            f"| {label} | {2 * 88 if name == 'markov' else 88} | {f['valid']:.3f} | {f['test']:.3f} | counts | |"
        )
    return "\n".join(lines)
