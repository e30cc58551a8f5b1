"""``python -m musegen generate RUN_DIR``: new music from a trained run, as MIDI (and WAV)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musegen.cli import print_json
from musegen.config import ConstraintConfig, Limits, SamplingConfig, sampling_choice
from musegen.errors import ConfigError, MidiReadError
from musegen.evaluation.originality import Finding, check, sources
from musegen.fileio import atomic_write_bytes, check_can_write
from musegen.notes import Piece, parse_pitch_name
from musegen.sources.files import read_limited
from musegen.steering.chords import chord_report
from musegen.steering.constraints import ChordChoice, constraint_choice, describe
from musegen.steering.infill import infill_advice, parse_span, span_in_beats, span_seconds


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
    p.add_argument(
        "--top-k",
        type=int,
        help=f"sample among the k most likely tokens (0 = off; default {d.top_k}, performance runs 0)",
    )
    p.add_argument("--top-p", type=float, default=d.top_p, help="nucleus sampling mass (1 = off)")
    p.add_argument(
        "--duration-temperature",
        type=_duration_temperature,
        default=d.duration_temperature,
        metavar="T|same",
        help=f"temperature of each note's length (default {d.duration_temperature}: the data's variety; "
        "'same' = --temperature)",
    )
    p.add_argument(
        "--motif-memory",
        type=float,
        default=d.motif_memory,
        metavar="S",
        help="0 to under 1: how strongly the piece continues figures it has already played (0 = off; default: "
        "what suits the run's music, 0.5 for the real piano pieces, 0 for the chorales; token runs)",
    )
    p.add_argument("--greedy", action="store_true", help="the tutorial's argmax (same as --temperature 0)")
    p.add_argument("--seed", type=int, default=None, help="random seed: the same seed gives the same music")
    p.add_argument("--variations", type=int, default=1, help="pieces generated together (default 1)")
    p.add_argument("--seed-piece", type=int, default=0, help="index of the run's piece used as seed (held-out first)")
    p.add_argument("--seed-start", type=int, default=0, help="first token of the seed passage in that piece")
    p.add_argument(
        "--seed-length", type=int, default=None, help="tokens of seed (default 64; with --infill the whole piece)"
    )
    p.add_argument("--seed-midi", metavar="FILE.mid", help="take the seed from this MIDI file instead")
    p.add_argument("--random-seed-passage", action="store_true", help="a random passage of a random piece as seed")
    p.add_argument(
        "--tempo",
        type=float,
        default=None,
        help="one tempo for the output in BPM (default: the seed file's tempo changes, then its mean tempo; else 100)",
    )
    p.add_argument("--program", type=int, default=0, help="General MIDI program (default 0, Acoustic Grand Piano)")
    p.add_argument("--no-seed-in-output", action="store_true", help="write the continuation only")
    p.add_argument("--out", metavar="FILE.mid", default="generated.mid", help="output MIDI (variations get -2, -3...)")
    p.add_argument("--wav", action="store_true", help="also render each MIDI to WAV with FluidSynth")
    _add_steering_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


def _add_steering_flags(p: argparse.ArgumentParser) -> None:
    """The flags of the "steering" group: a span to fill in, and the rules every generated note keeps."""
    g = p.add_argument_group("steering", "fill in a span, and rules every generated note keeps")
    g.add_argument(
        "--infill",
        metavar="START:END",
        help="regenerate beats START to END of the seed piece instead of continuing it (runs trained with "
        "infilling), or seconds with an s: 4s:8s; each variation is the whole piece with that span new",
    )
    g.add_argument("--key", help="keep to a key or scale, e.g. 'D minor', 'F# major', 'A dorian', 'C pentatonic'")
    g.add_argument("--pitch-range", metavar="LOW:HIGH", help="keep to pitches LOW..HIGH: MIDI numbers or names (C3:C6)")
    g.add_argument(
        "--max-polyphony",
        type=int,
        metavar="N",
        help="at most N notes sounding at once (0: no limit; default: 10 for performance runs, no limit otherwise)",
    )
    g.add_argument(
        "--max-note-seconds",
        type=float,
        default=ConstraintConfig.max_note_seconds,
        metavar="S",
        help="performance runs: a note sounding S seconds is released (0: no limit; default %(default)s)",
    )
    g.add_argument(
        "--no-grammar", action="store_true", help="let token runs write malformed sequences (the decoder repairs them)"
    )
    _add_chord_flags(g)


@dataclass
class _Made:
    """What one generate command made, before it is written: the new music and its MIDI."""

    new_music: list[Piece]  # each variation's new notes, placed where they sound
    pms: list[Any]  # the MIDI of each variation (pretty_midi), as written
    notes: list[int]  # notes of each written file
    counts: list[int]  # tokens drawn for each variation
    seconds: float
    memory: float  # the motif memory used (0: none)
    origin: float  # where the new music (and a chord progression) begins, in beats
    infill: dict | None = None  # the span and its prompt, when a span was filled in


def run(args: argparse.Namespace) -> int:
    from musegen.generation.compose import Composer

    span = _check_flags(args)  # before anything is loaded: a wrong flag fails at once
    _constraints(args)
    outputs = _outputs(args)
    seed_midi = _read(Path(args.seed_midi)) if args.seed_midi else b""
    composer = Composer(args.run_dir)
    constraints = _constraints(args, composer.rep.unit)  # frames are always well formed: no grammar rule
    if span is not None:
        composer.rep.check_infill(composer.config.model)  # before the model loads: say so at once
    seed = _seed(args, composer, seed_midi, span is not None)
    args.midi_tempo = args.tempo  # None: the MIDI keeps the seed's tempo changes, then its mean tempo
    args.tempo = seed.tempo if args.tempo is None else args.tempo  # the seed's mean tempo, to count the time
    length = composer.tokens_for_seconds(args.seconds, args.tempo) if args.seconds else args.length
    sampling = sampling_choice(
        length=length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        unit=composer.rep.unit,
        greedy=args.greedy,
        seed=args.seed,
        variations=args.variations,
        duration_temperature=args.duration_temperature,
        motif_memory=args.motif_memory,
        max_length=Limits.from_env().max_generation_length,
    )
    made = _make(args, composer, seed, sampling, constraints, span)
    learned = sources(composer)
    findings = [check(learned, piece) for piece in made.new_music]  # once each: the JSON and the text share them
    files = _write(args, made, outputs, findings)
    summary = {
        "ok": True,
        "run_dir": str(args.run_dir),
        "seed": seed.label,
        "tempo": args.tempo,
        "tempo_changes": len(made.pms[0].get_tempo_changes()[0]) if made.pms else 1,  # tempos the MIDI writes
        "constraints": describe(constraints),
        "motif_memory": made.memory,
        "seconds": round(made.seconds, 3),
        "ms_per_token": round(1000 * made.seconds / max(1, sum(made.counts) / max(1, len(made.counts))), 3),
        "files": files,
    }
    if made.infill is not None:
        summary["infill"] = made.infill
    if (chords := chord_report(made.new_music, constraints, made.origin)) is not None:
        summary["chords"] = chords
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary, constraints, made, findings, sampling.variations)
    return 0


def _seed(args: argparse.Namespace, composer: Any, seed_midi: bytes, infill: bool) -> Any:
    """The seed of the flags: a MIDI file, a random passage or a piece of the run."""
    length_tokens = args.seed_length or (Limits.from_env().max_generation_length if infill else 64)
    if args.seed_midi:
        return composer.seed_from_midi(seed_midi, Path(args.seed_midi).name, length_tokens)
    if args.random_seed_passage:
        return composer.random_seed(args.seed, length_tokens)
    return composer.seed_from_piece(args.seed_piece, args.seed_start, length_tokens)


def _make(args, composer, seed, sampling: SamplingConfig, constraints, span) -> _Made:
    """Continue the seed, or fill in its span, with a progress line on a terminal."""
    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done % 16 == 0 or done == total):
            print(f"\rgenerating {done}/{total} tokens", end="", file=sys.stderr)

    if span is not None:
        beats = span_in_beats(seed.piece, *span)
        result = composer.infill(seed.piece, *beats, sampling, on_progress=progress, constraints=constraints)
        made = _Made(
            new_music=[result.placed(i) for i in range(len(result.pieces))],
            pms=[result.midi(i, tempo=args.midi_tempo, program=args.program) for i in range(len(result.pieces))],
            notes=[p.n_notes for p in result.pieces],
            counts=result.token_counts,
            seconds=result.seconds,
            memory=0.0,  # infilling draws without the motif memory
            origin=result.start,
            infill={
                "start": result.start,
                "end": result.end,
                "seconds": list(span_seconds(result.plan.piece, result.start, result.end)),
                "prompt": result.plan.label,
                "advice": infill_advice(composer.config.model),  # None: the architecture uses both sides
            },
        )
    else:
        comp = composer.compose(seed, sampling, on_progress=progress, constraints=constraints)
        memory = float(comp.sampling.motif_memory or 0.0)  # the run's suggestion when not given
        if args.seconds:
            comp = comp.trimmed(args.seconds, args.tempo)
        new_music = [comp.placed(i) for i in range(len(comp.continuations))]
        include = not args.no_seed_in_output
        pms = [
            comp.midi(i, tempo=args.midi_tempo, program=args.program, include_seed=include)
            for i in range(len(new_music))
        ]
        notes = [p.n_notes for p in new_music]
        made = _Made(new_music, pms, notes, comp.token_counts, comp.seconds, memory, comp.seed.end_beats)
    if show:
        print(file=sys.stderr)
    return made


def _write(args: argparse.Namespace, made: _Made, outputs: list[Path], findings: list[list[Finding]]) -> list[dict]:
    """Each variation's MIDI (and WAV) written; the files' entries of the summary."""
    from musegen.output.midi import write_midi

    files = []
    for i, pm in enumerate(made.pms):
        path = outputs[i]
        write_midi(pm, path)
        entry = {"midi": str(path), "notes": made.notes[i], "new_notes": made.new_music[i].n_notes}
        entry["tokens"] = made.counts[i]
        found = findings[i]
        entry["originality"] = found[0].to_dict()
        if len(found) > 1:  # a fine-tuned run: the base model's corpus, separately
            entry["originality_base"] = found[1].to_dict()
        if args.wav:
            entry.update(_render(pm, path.with_suffix(".wav")))
        files.append(entry)
    return files


def _print_summary(
    summary: dict, constraints: ConstraintConfig, made: _Made, findings: list[list[Finding]], variations: int
) -> None:
    kept = f", its {summary['tempo_changes']} tempos kept" if summary["tempo_changes"] > 1 else ""
    print(f"seed: {summary['seed']} (tempo {summary['tempo']:g} BPM{kept})")
    if made.infill is not None:
        print(f"infilled {made.infill['prompt']}")
        if made.infill["advice"]:
            print(f"note: {made.infill['advice']}")
    if constraints is not None and constraints.active:
        print(f"constraints: {describe(constraints)}")
    if made.memory:
        print(f"motif memory {made.memory:g}")
    if (chords := summary.get("chords")) is not None:
        each = ", ".join("-" if v is None else f"{v:.0%}" for v in chords["shares"])
        overall = "-" if chords["share"] is None else f"{chords['share']:.0%}"
        print(f"chord tones: {overall} of the notes begun under a chord (each variation: {each})")
    for f, found in zip(summary["files"], findings, strict=True):
        extra = f", {f['wav']} ({f['engine']})" if "wav" in f else ""
        print(f"wrote {f['midi']}: {f['new_notes']} new notes from {f['tokens']} tokens{extra}")
        for finding in found:
            print(f"  {finding.describe()}")
    print(f"{variations} variation(s) in {made.seconds:.2f} s")


MAX_SECONDS = 86_400.0  # a day of music; the token limit cuts any piece far shorter
MAX_SEED = 2**32 - 1  # what every random generator musegen seeds accepts


def _check_flags(args: argparse.Namespace) -> tuple[float, float, str] | None:
    """Every flag checked; the --infill span (start, end, unit) when given."""
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
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"{flag} must be a finite number, got {value}.")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be a whole number from 0 to {MAX_SEED:,}, got {args.seed:,}.")
    sampling_choice(  # every sampling flag checked (the length is --length's or --seconds')
        length=1,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        variations=args.variations,
        duration_temperature=args.duration_temperature,
        motif_memory=args.motif_memory,
    )
    if args.seed_length is not None and args.seed_length < 1:
        raise ConfigError(f"--seed-length must be at least 1 token, got {args.seed_length}.")
    check_settings(100.0 if args.tempo is None else args.tempo, args.program)
    if args.infill is None:
        return None
    if args.seconds is not None:
        raise ConfigError("--infill regenerates a span of the seed piece; --seconds applies to continuations only.")
    return parse_span(args.infill)


def _pair(text: str, flag: str, kind: Any, example: str) -> tuple[Any, Any]:
    low, sep, high = (text or "").partition(":")
    try:
        if not sep:
            raise ValueError(text)
        return kind(low.strip()), kind(high.strip())
    except ValueError:
        raise ConfigError(f"{flag} must be {example}; got {text!r}.") from None


def _midi_number(text: str) -> int:
    """60, or a note name with octave (C4, F#3, Bb5) as a MIDI pitch."""
    if text.lstrip("-").isdigit():
        return int(text)
    if (midi := parse_pitch_name(text)) is None:
        raise ValueError(text)
    return midi


def _add_chord_flags(g: argparse._ArgumentGroup) -> None:
    d = ChordChoice("")
    g.add_argument(
        "--chords",
        metavar="PROGRESSION",
        help="play over a chord progression starting where the new music does (with --infill, at the span), e.g. "
        "'C | Am | F G7 | C', 'Dm7 G7 | Cmaj7', 'F / / G' (beats), '%%' (the bar again), C/E, N.C.",
    )
    g.add_argument("--beats-per-bar", type=int, default=d.beats_per_bar, metavar="N", help="the chords' bars")
    g.add_argument("--chords-once", action="store_true", help="play the progression once (default: it repeats)")
    g.add_argument(
        "--chord-mode",
        choices=("hard", "soft"),
        default=d.mode,
        help="hard: notes begun under a chord are its tones; soft: a bias towards them (--chord-strength)",
    )
    g.add_argument(
        "--chord-strength", type=float, default=d.strength, metavar="S", help="soft: other notes e**S times less likely"
    )
    g.add_argument("--passing-tones", action="store_true", help="hard: any allowed pitch on weak beats")
    g.add_argument("--chord-bass", action="store_true", help="the first note under each chord on its bass (C/E: E)")


def _constraints(args: argparse.Namespace, unit: str = "token") -> ConstraintConfig:
    """The rules of the flags, checked (a wrong key, range or chord fails before anything is loaded)."""
    low, high = 0, 127
    if args.pitch_range:
        low, high = _pair(args.pitch_range, "--pitch-range", _midi_number, "LOW:HIGH, e.g. 48:84 or C3:C6")
    if not math.isfinite(args.chord_strength):
        raise ConfigError(f"--chord-strength must be a finite number, got {args.chord_strength}.")
    chords = ChordChoice(
        args.chords or "",
        beats_per_bar=args.beats_per_bar,
        repeat=not args.chords_once,
        mode=args.chord_mode,
        strength=args.chord_strength,
        passing_tones=args.passing_tones,
        bass=args.chord_bass,
    )
    return constraint_choice(
        key=args.key or "",
        low=low,
        high=high,
        max_polyphony=args.max_polyphony,
        grammar=not args.no_grammar,
        unit=unit,
        chords=chords,
        max_note_seconds=args.max_note_seconds,
    )


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


def _duration_temperature(text: str) -> float | None:
    """``--duration-temperature``: a number, or ``same`` (follow ``--temperature``)."""
    if text.strip().lower() == "same":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1.0, or 'same'; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
