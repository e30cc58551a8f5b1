"""``python -m musegen train``: train a model into a new run folder (or resume one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.cli import print_json
from musegen.cli.evaluate_cmd import format_metrics
from musegen.config import ARCHITECTURES, RunConfig
from musegen.datasets.dataset import build_dataset
from musegen.datasets.expression import expression_of, suggested, what_it_learns
from musegen.errors import ConfigError
from musegen.representations.registry import check, for_arch, names
from musegen.sources.ingest import BUILTIN_NAME, ingest_paths
from musegen.streams.store import load_store_dataset, open_store
from musegen.training.distribute import is_chief_task
from musegen.training.finetune import finetune_config, finetune_dataset, resolve_base
from musegen.training.loop import train
from musegen.training.presets import preset_config
from musegen.training.sizing import FIM_RATE, can_learn_infilling

# flag -> (config section, field, type, help); a flag left out keeps the preset's / default value
CONFIG_FLAGS: dict[str, tuple[str, str, type, str]] = {
    "--window": ("data", "window", int, "tokens per training window (default 128)"),
    "--stride": ("data", "stride", int, "step between windows of one piece (default 64)"),
    "--val-fraction": ("data", "val_fraction", float, "share of pieces held out for validation (default 0.1)"),
    "--fim-rate": (
        "data",
        "fim_rate",
        float,
        "share of windows trained as fill-in-the-middle examples, so the run can also infill (default 0.5 for "
        "token runs of wavenet, lstm and transformer; 0 = off)",
    ),
    "--velocity-bins": (
        "data",
        "velocity_bins",
        int,
        "velocity levels of --velocity on and of the performance representation (default 32, as MidiTok)",
    ),
    "--epochs": ("train", "epochs", int, "total epochs of the run (default 20)"),
    "--batch-size": ("train", "batch_size", int, "windows per batch PER REPLICA; global = this x replicas"),
    "--lr": ("train", "learning_rate", float, "Adam learning rate (default 0.001)"),
    "--patience": ("train", "patience", int, "early stopping after this many epochs without improvement; 0 = off"),
    "--seed": ("train", "seed", int, "random seed of weights and shuffling (default 0)"),
    "--max-minutes": ("train", "max_minutes", float, "stop after this many minutes, keeping the best model"),
    "--embed-dim": ("model", "embed_dim", int, "token embedding size (wavenet, lstm)"),
    "--channels": ("model", "channels", int, "WaveNet residual channels"),
    "--dilation-cycle": ("model", "dilation_cycle", int, "WaveNet dilations 1..2**(n-1) per stack"),
    "--stacks": ("model", "stacks", int, "WaveNet dilation stacks"),
    "--units": ("model", "units", int, "LSTM units per layer"),
    "--layers": ("model", "layers", int, "stacked LSTM layers"),
    "--dropout": ("model", "dropout", float, "dropout rate"),
    "--head": (
        "model",
        "head",
        str,
        "piano-roll output head: independent (a sigmoid per key) or nade (the keys of a frame drawn low to "
        "high, each given those below: chords)",
    ),
    "--nade-hidden": ("model", "nade_hidden", int, "hidden units of the NADE head (default 128)"),
    "--precision": (
        "train",
        "precision",
        str,
        "float32 (default), mixed_float16 (GPUs with tensor cores; Keras' loss scaling) or mixed_bfloat16: "
        "layers compute in 16 bits, weights and logits stay float32",
    ),
    "--xla": (
        "train",
        "jit_compile",
        str,
        "XLA-compile the training step: auto (default: on a GPU, off on a CPU-only machine and under "
        "--distribute), on or off",
    ),
}
RESUMABLE = {"epochs", "max_minutes", "patience"}  # settings a resumed run may change


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a model on MIDI (default: the built-in Bach chorales) into runs/<run-id>/",
        description="Train a WaveNet, LSTM or Transformer on MIDI files into a run folder (config, vocabulary, "
        "history, "
        "checkpoints, held-out metrics). With no --data, the built-in Bach chorales are used. "
        "Flags override the preset; Ctrl-C stops and keeps the best model.",
    )
    p.add_argument("--data", nargs="+", metavar="PATH", help="MIDI files, folders or .zip archives")
    p.add_argument(
        "--store",
        metavar="DIR",
        help="train from a token store (`ingest PATH --store DIR`): windows stream from disk, for corpora of any "
        "size; the representation, grid and split are the store's",
    )
    p.add_argument("--max-pieces", type=int, metavar="N", help="use only the first N pieces (quick trials)")
    p.add_argument("--arch", choices=ARCHITECTURES, help="model architecture (default wavenet)")
    p.add_argument(
        "--repr",
        choices=names(),
        help="tokens (default timed; classic-* default classic) or pianoroll (88-key frames; wavenet, lstm, "
        "transformer; --head nade draws them as chords)",
    )
    for flag, (_, _, kind, text) in CONFIG_FLAGS.items():
        p.add_argument(flag, type=kind, help=text)
    p.add_argument(
        "--velocity",
        choices=["auto", "on", "off"],
        help="timed tokens: learn dynamics with a Velocity token per note; auto (default) when the files' "
        "velocities vary",
    )
    p.add_argument(
        "--no-pedal",
        action="store_true",
        help="read notes as written: ignore the sustain pedal (by default notes sound on while it is down)",
    )
    p.add_argument(
        "--eval-every",
        type=_eval_every,
        metavar="N|auto",
        help="validate (and keep the best model, count patience) every N batches, or auto: about 20 times per "
        "--max-minutes; 0 = at epoch ends (default 0)",
    )
    p.add_argument(
        "--lr-schedule",
        choices=["constant", "budget"],
        help="budget: hold the rate, then decay it over the last fifth of --max-minutes to 5%% (default constant)",
    )
    p.add_argument("--distribute", choices=["mirrored", "multiworker"], help="tf.distribute over devices/workers")
    p.add_argument("--preset", choices=["demo"], help="a named configuration (demo: the bundled demo models)")
    p.add_argument("--runs-dir", default="runs", help="where run folders are created (default runs/)")
    p.add_argument("--name", help="a fixed run name instead of a generated id (replaces a run of that name)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last.keras (raise --epochs)")
    p.add_argument(
        "--finetune",
        metavar="BASE",
        help="start from a trained model instead of random weights: a run folder or a bundled base model's name; "
        "the run keeps the base's tokens and model and learns --data with fine-tuning defaults (rate 3e-4)",
    )
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation at the end")
    p.add_argument("--json", action="store_true", help="print one JSON object; progress goes to stderr")
    return p


def run(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    if args.resume:
        config, dataset, run_dir = _resume_setup(args)
    else:
        config, dataset, name = _finetune_setup(args, out) if args.finetune else _new_setup(args)
        config.dataset_name = _dataset_name(args)
        if is_chief_task(config.train.distribute):
            run_dir = runs.create_run(args.runs_dir, config, dataset.vocab, name=name, overwrite=name is not None)
        else:  # a multi-worker run's other workers never create or write a run folder
            run_dir = Path(args.runs_dir) / (name or "not-the-chief")
    chief = is_chief_task(config.train.distribute)
    print(
        f"run {run_dir}" if chief else "a worker of a multi-worker run: the chief writes the run folder",
        file=out,
        flush=True,
    )
    if chief:
        print(f"it learns {what_it_learns(config.data)}", file=out, flush=True)
    result = train(
        config,
        dataset,
        run_dir,
        on_progress=lambda e: print_event(e, out),
        resume=bool(args.resume),
        evaluate=not args.no_eval,
    )
    report = {
        "ok": True,
        "run_dir": str(result.run_dir),
        "run_id": result.run_dir.name,
        "status": result.status,
        "message": result.message,
        "epochs_done": result.epochs_done,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        "best_value": result.best_value,
        "metrics": result.metrics.to_dict() if result.metrics else None,
    }
    if args.json:
        print_json(report)
    else:
        print(f"{result.status}: {result.message}")
        if result.best_epoch:
            print(f"best {result.monitor} {result.best_value:.4f} at epoch {result.best_epoch}")
        if result.metrics:
            print(format_metrics(result.metrics))
        print(f"run folder: {result.run_dir}" if chief else "run folder: written by the chief")
    return 0


def _new_setup(args: argparse.Namespace) -> tuple[RunConfig, Any, str | None]:
    config, name = _config_from_args(args)
    return config, _load_dataset(args, config), name


# what a fine-tuning run may change; the rest (tokens, windows, model) is the base's
FINETUNE_FLAGS = {"--epochs", "--batch-size", "--lr", "--patience", "--seed", "--max-minutes", "--val-fraction"}


def _finetune_setup(args: argparse.Namespace, out: Any) -> tuple[RunConfig, Any, str | None]:
    fixed = ["store", "arch", "repr", "preset", "velocity", "no_pedal", "distribute"]
    changed = ["--" + name.replace("_", "-") for name in fixed if getattr(args, name)]
    changed += [flag for flag in CONFIG_FLAGS if flag not in FINETUNE_FLAGS and _flag(args, flag)]
    if changed:
        raise ConfigError(
            f"{', '.join(changed)} cannot be set when fine-tuning: the run keeps the base model's tokens and "
            f"model. Only {', '.join(sorted(FINETUNE_FLAGS))} may change."
        )
    base = resolve_base(args.finetune)
    given = {field: value for section, field, value in _given(args) if section == "train"}
    config = finetune_config(base, **given)
    if args.val_fraction is not None:
        config.data.val_fraction = args.val_fraction
    if args.max_pieces is not None and args.max_pieces < 1:
        raise ConfigError(f"--max-pieces must be at least 1, got {args.max_pieces}.")
    report = ingest_paths(args.data or [], config.data)
    report.require_usable()
    pieces = report.pieces[: args.max_pieces] if args.max_pieces else report.pieces
    dataset, coverage = finetune_dataset(pieces, config, base)
    print(f"fine-tuning {base.run_id}: {coverage.message()}", file=out, flush=True)
    return config, dataset, args.name


def _config_from_args(args: argparse.Namespace) -> tuple[RunConfig, str | None]:
    arch = args.arch or "wavenet"
    if args.preset:
        config, name = preset_config(args.preset, arch)
    else:
        config, name = RunConfig(), None
        config.model.arch = arch
    # a flag given wins (and a model that cannot read it is an error); else what the model reads
    config.data.representation = args.repr or for_arch(arch, config.data.representation)
    if not args.preset and args.fim_rate is None and can_learn_infilling(config):
        config.data.fim_rate = FIM_RATE  # a new token run learns to infill as well, unless told otherwise
    for section, field, value in _given(args):
        setattr(getattr(config, section), field, value)
    if args.distribute:
        config.train.distribute = args.distribute
    _selection(config, args.eval_every, args.lr_schedule)
    if args.no_pedal:
        config.data.sustain_pedal = False
    config.data.velocity = args.velocity == "on"  # "auto" is decided once the files are read (_load_dataset)
    check(config)
    if config.train.epochs < 1:
        raise ConfigError("--epochs must be at least 1.")
    return config, args.name or name


def _given(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(section, field, value) of every config flag present on the command line."""
    given = []
    for flag, (section, field, _, _) in CONFIG_FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            given.append((section, field, value))
    return given


def _load_dataset(args: argparse.Namespace, config: RunConfig) -> Any:
    if args.store:
        return _store_dataset(args, config)
    if args.max_pieces is not None and args.max_pieces < 1:
        raise ConfigError(f"--max-pieces must be at least 1, got {args.max_pieces}.")
    report = ingest_paths(args.data or [], config.data)
    report.require_usable()
    pieces = report.pieces[: args.max_pieces] if args.max_pieces else report.pieces
    if args.velocity in (None, "auto"):
        config.data = suggested(config.data, expression_of(pieces))  # dynamics where the files have them
    return build_dataset(pieces, config.data)


# what a store fixes at ingest: the tokens and the split (musegen.streams.store)
STORE_FIELDS = (
    "representation",
    "steps_per_beat",
    "max_shift_beats",
    "instrument_filter",
    "programs",
    "min_token_count",
    "transpose",
    "val_fraction",
    "split_seed",
    "velocity",
    "velocity_bins",
    "sustain_pedal",
)


def _store_dataset(args: argparse.Namespace, config: RunConfig, store: Any = None) -> Any:
    """The store's dataset, ``config.data`` set to the store's tokens and split (a flag that disagrees is an error)."""
    if args.data or args.max_pieces:
        raise ConfigError("--store trains on the whole store; leave out --data and --max-pieces.")
    store = store or open_store(args.store)
    stored = store.data_config
    if args.repr and args.repr != stored.representation:
        raise ConfigError(
            f"the store holds {stored.representation} tokens, not {args.repr}; ingest again with --repr {args.repr}."
        )
    if getattr(args, "val_fraction", None) is not None:
        raise ConfigError("the store's split was decided at ingest; ingest again with --val-fraction to change it.")
    for field in STORE_FIELDS:
        setattr(config.data, field, getattr(stored, field))
    if not args.preset and args.fim_rate is None:  # the default, for the store's representation
        config.data.fim_rate = FIM_RATE if can_learn_infilling(config) else 0.0
    check(config)
    return load_store_dataset(store, fim=config.data.fim_rate > 0 and not config.model.is_classic)


def _dataset_name(args: argparse.Namespace) -> str:
    if getattr(args, "store", None):
        return f"token store {Path(args.store).resolve().name}"
    if not args.data:
        name = BUILTIN_NAME
    else:
        shown = ", ".join(Path(p).name for p in args.data[:3])
        name = shown + (f" and {len(args.data) - 3} more" if len(args.data) > 3 else "")
    return name + (f" (first {args.max_pieces} pieces)" if args.max_pieces else "")


def _resume_setup(args: argparse.Namespace) -> tuple[RunConfig, Any, Path]:
    fixed = ["data", "store", "max_pieces", "arch", "repr", "preset", "name", "velocity", "no_pedal", "finetune"]
    fixed += ["eval_every", "lr_schedule"]  # a resumed run keeps its schedule
    changed = ["--" + name.replace("_", "-") for name in fixed if getattr(args, name)]
    changed += [flag for flag, (_, field, _, _) in CONFIG_FLAGS.items() if field not in RESUMABLE and _flag(args, flag)]
    if changed:
        raise ConfigError(
            f"{', '.join(changed)} cannot change when resuming; a resumed run keeps its "
            "data and model. Only --epochs, --max-minutes and --patience may change."
        )
    info = runs.load_run(args.resume)
    assert info.config is not None
    config = info.config
    if args.distribute and args.distribute != config.train.distribute:  # the same one may be said again
        raise ConfigError(
            f"--distribute cannot change when resuming; run {info.run_id} trains with "
            f"{config.train.distribute or 'one device'!r}."
        )
    for section, field, value in _given(args):
        setattr(getattr(config, section), field, value)
    return config, runs.training_dataset(info.path), info.path


def _eval_every(text: str) -> int:
    """``--eval-every``'s value: a number of batches (0 = epoch ends), or ``auto`` (-1: by time)."""
    if text == "auto":
        return -1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of batches or auto, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a number of batches is 0 or more (auto validates by time)")
    return value


def _selection(config: RunConfig, eval_every: int | None, lr_schedule: str | None) -> None:
    """The flags given; left out, the run validates at epoch ends at a constant rate (within epochs and a
    budget decay measured worse on 2 shared cores: BENCHMARKS.md, "Model selection within epochs")."""
    if eval_every is not None:
        config.train.eval_every = eval_every
    if lr_schedule is not None:
        config.train.lr_schedule = lr_schedule


def _flag(args: argparse.Namespace, flag: str) -> bool:
    return getattr(args, flag.lstrip("-").replace("-", "_")) is not None


def print_event(event: Any, out: Any) -> None:
    if event.kind == "epoch":
        parts = [f"epoch {event.epoch}/{event.epochs}", f"loss {event.loss:.4f}"]
        if event.val_loss is not None:
            parts.append(f"val_loss {event.val_loss:.4f}")
        if event.accuracy is not None:
            parts.append(f"acc {event.accuracy:.3f}")
        if event.val_accuracy is not None:
            parts.append(f"val_acc {event.val_accuracy:.3f}")
        parts.append(f"{event.elapsed_s:.1f}s")
        if event.tokens_per_s:
            parts.append(f"{event.tokens_per_s:,.0f} tok/s")
        if event.eta_s:
            parts.append(f"eta {event.eta_s:.0f}s")
        print("  ".join(parts), file=out, flush=True)
    elif event.kind == "status" and event.status == "running" and event.message:  # the end is summarised apart
        print(f"[{event.status}] {event.message}", file=out, flush=True)
