"""``python -m musegen generate RUN_DIR``: new music from a trained run, as MIDI (and WAV)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from musegen.cli import print_json
from musegen.config import Limits, SamplingConfig
from musegen.errors import ConfigError, MidiReadError
from musegen.fileio import atomic_write_bytes, check_can_write
from musegen.sources.files import read_limited


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "generate",
        help="continue a seed passage with a trained run and write MIDI (and WAV with --wav)",
        description="Generate continuations of a seed with RUN_DIR's best model. The seed is a held-out piece of "
        "the run (--seed-piece, --seed-start), a random passage (--random-seed-passage) or a MIDI file "
        "(--seed-midi). Several variations are generated together in one batch.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, e.g. assets/models/demo-wavenet")
    d = SamplingConfig()
    p.add_argument("--length", type=int, default=d.length, help=f"tokens to generate (default {d.length})")
    p.add_argument("--seconds", type=float, help="generate about this many seconds of music instead of --length")
    p.add_argument("--temperature", type=float, default=d.temperature, help="0 = greedy; higher = more adventurous")
    p.add_argument("--top-k", type=int, default=d.top_k, help="sample among the k most likely tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=d.top_p, help="nucleus sampling mass (1 = off)")
    p.add_argument("--greedy", action="store_true", help="the tutorial's argmax (same as --temperature 0)")
    p.add_argument("--seed", type=int, default=None, help="random seed: the same seed gives the same music")
    p.add_argument("--variations", type=int, default=1, help="pieces generated together (default 1)")
    p.add_argument("--seed-piece", type=int, default=0, help="index of the run's piece used as seed (held-out first)")
    p.add_argument("--seed-start", type=int, default=0, help="first token of the seed passage in that piece")
    p.add_argument("--seed-length", type=int, default=64, help="tokens of seed (default 64)")
    p.add_argument("--seed-midi", metavar="FILE.mid", help="take the seed from this MIDI file instead")
    p.add_argument("--random-seed-passage", action="store_true", help="a random passage of a random piece as seed")
    p.add_argument("--tempo", type=float, default=100.0, help="tempo of the output in BPM (default 100)")
    p.add_argument("--program", type=int, default=0, help="General MIDI program (default 0, Acoustic Grand Piano)")
    p.add_argument("--no-seed-in-output", action="store_true", help="write the continuation only")
    p.add_argument("--out", metavar="FILE.mid", default="generated.mid", help="output MIDI (variations get -2, -3...)")
    p.add_argument("--wav", action="store_true", help="also render each MIDI to WAV with FluidSynth")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


def run(args: argparse.Namespace) -> int:
    from musegen.generation.compose import Composer
    from musegen.output.midi import write_midi

    _check_flags(args)  # before anything is loaded: a wrong flag fails at once
    outputs = _outputs(args)
    seed_midi = _read(Path(args.seed_midi)) if args.seed_midi else b""
    composer = Composer(args.run_dir)
    if args.seed_midi:
        seed = composer.seed_from_midi(seed_midi, Path(args.seed_midi).name, args.seed_length)
    elif args.random_seed_passage:
        seed = composer.random_seed(args.seed, args.seed_length)
    else:
        seed = composer.seed_from_piece(args.seed_piece, args.seed_start, args.seed_length)
    length = composer.tokens_for_seconds(args.seconds, args.tempo) if args.seconds else args.length
    sampling = SamplingConfig(
        length=length,
        temperature=0.0 if args.greedy else args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        seed=args.seed,
        variations=args.variations,
    )
    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done % 16 == 0 or done == total):
            print(f"\rgenerating {done}/{total} tokens", end="", file=sys.stderr)

    comp = composer.compose(seed, sampling, on_progress=progress)
    if show:
        print(file=sys.stderr)
    if args.seconds:
        comp = comp.trimmed(args.seconds, args.tempo)
    files = []
    for i in range(len(comp.continuations)):
        path = outputs[i]
        pm = comp.midi(i, tempo=args.tempo, program=args.program, include_seed=not args.no_seed_in_output)
        write_midi(pm, path)
        entry = {"midi": str(path), "notes": comp.continuations[i].n_notes, "tokens": comp.token_counts[i]}
        if args.wav:
            entry.update(_render(pm, path.with_suffix(".wav")))
        files.append(entry)
    summary = {
        "ok": True,
        "run_dir": str(args.run_dir),
        "seed": seed.label,
        "seconds": round(comp.seconds, 3),
        "ms_per_token": round(1000 * comp.seconds / max(1, sampling.length), 3),
        "files": files,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"seed: {seed.label}")
        for f in files:
            extra = f", {f['wav']} ({f['engine']})" if "wav" in f else ""
            print(f"wrote {f['midi']}: {f['notes']} notes from {f['tokens']} tokens{extra}")
        print(f"{sampling.variations} x {sampling.length} tokens in {comp.seconds:.2f} s")
    return 0


MAX_SECONDS = 86_400.0  # a day of music; the token limit cuts any piece far shorter
MAX_SEED = 2**32 - 1  # what every random generator musegen seeds accepts


def _check_flags(args: argparse.Namespace) -> None:
    from musegen.output.midi import check_settings

    limit = Limits.from_env().max_generation_length
    if args.seconds is None and not 1 <= args.length <= limit:
        raise ConfigError(
            f"--length must be from 1 to {limit:,} tokens (this machine's limit, MUSEGEN_MAX_GENERATION_LENGTH); "
            f"got {args.length:,}."
        )
    if args.seconds is not None and not (math.isfinite(args.seconds) and 0 < args.seconds <= MAX_SECONDS):
        raise ConfigError(f"--seconds must be positive, finite and at most {MAX_SECONDS:,.0f}, got {args.seconds}.")
    for flag, value in (("--temperature", args.temperature), ("--top-p", args.top_p), ("--tempo", args.tempo)):
        if not math.isfinite(value):
            raise ConfigError(f"{flag} must be a finite number, got {value}.")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be a whole number from 0 to {MAX_SEED:,}, got {args.seed:,}.")
    probe = SamplingConfig(
        length=1, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, variations=args.variations
    )
    probe.validate()
    if args.seed_length < 1:
        raise ConfigError(f"--seed-length must be at least 1 token, got {args.seed_length}.")
    check_settings(args.tempo, args.program)


def _outputs(args: argparse.Namespace) -> list[Path]:
    """The MIDI (and WAV) paths to write, checked before any music is made (nothing is created yet):
    each names a new or a regular file (never a device, link or folder) in a folder that exists or can
    be made."""
    if not args.out.strip():
        raise ConfigError("--out needs a file name, e.g. --out generated.mid.")
    out = Path(args.out)
    paths = [out if i == 0 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(args.variations)]
    for path in paths:
        check_can_write(path)
        if args.wav:
            check_can_write(path.with_suffix(".wav"))
    return paths


def _read(path: Path) -> bytes:
    try:
        return read_limited(path, Limits.from_env().max_file_mb)
    except MidiReadError as exc:
        raise MidiReadError(f"{path}: cannot use it as the seed: {exc}") from None


def _render(pm, wav_path: Path) -> dict:
    from musegen.output.audio import render

    result = render(pm)
    atomic_write_bytes(wav_path, result.wav)
    return {"wav": str(wav_path), "engine": result.engine, "audio_seconds": round(result.seconds, 2)}
