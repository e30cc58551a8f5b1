"""``python -m musegen render FILE.mid``: a MIDI file to a 44.1 kHz stereo WAV with FluidSynth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pretty_midi

from musegen.cli import print_json
from musegen.config import Limits
from musegen.errors import ConfigError, MidiReadError
from musegen.fileio import atomic_write_bytes, check_can_write, make_dirs
from musegen.output.audio import render
from musegen.sources.files import read_limited
from musegen.sources.ingest import parse_midi


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "render",
        help="render a MIDI file to a WAV file with FluidSynth",
        description="Render every instrument of a MIDI file to a 16-bit stereo WAV with FluidSynth and a "
        "General MIDI SoundFont (searched as in DESIGN.md unless --soundfont is given). Without the FluidSynth "
        "library a plain sine-wave fallback is used and said so.",
    )
    p.add_argument("file", metavar="FILE.mid", help="the MIDI file to render")
    p.add_argument("--out", metavar="FILE.wav", help="where to write the WAV (default: next to FILE, .wav)")
    p.add_argument("--soundfont", metavar="PATH", help="a .sf2/.sf3 SoundFont (default: $MUSEGEN_SOUNDFONT or search)")
    p.add_argument("--no-reverb", action="store_true", help="switch FluidSynth's reverb off")
    p.add_argument("--no-chorus", action="store_true", help="switch FluidSynth's chorus off")
    p.add_argument("--sample-rate", type=int, default=44100, help="samples per second (default 44100)")
    p.add_argument("--no-fallback", action="store_true", help="fail instead of using the sine fallback")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


def load_midi(path: Path, limits: Limits | None = None) -> pretty_midi.PrettyMIDI:
    """Read a MIDI file (a regular file within the size limit) with all its instruments; MidiReadError
    says what is wrong."""
    limits = limits or Limits.from_env()
    try:
        data = read_limited(path, limits.max_file_mb)
    except MidiReadError as exc:
        raise MidiReadError(f"{path}: {exc}") from None
    return parse_midi(data, path.name, limits)


def run(args: argparse.Namespace) -> int:
    src = Path(args.file)
    if args.out is not None and not args.out.strip():
        raise ConfigError("--out needs a file name, e.g. --out song.wav (or leave it out: next to FILE).")
    out = Path(args.out) if args.out else src.with_suffix(".wav")
    check_can_write(out)  # before rendering: never onto a device, a link or a folder
    pm = load_midi(src)
    result = render(
        pm,
        soundfont=args.soundfont,
        sample_rate=args.sample_rate,
        reverb=not args.no_reverb,
        chorus=not args.no_chorus,
        fallback=not args.no_fallback,
    )
    make_dirs(out.parent)
    atomic_write_bytes(out, result.wav)
    if args.json:
        print_json(
            {
                "ok": True,
                "input": str(src),
                "out": str(out),
                "engine": result.engine,
                "message": result.message,
                "warnings": result.warnings,
                "soundfont": result.soundfont,
                "seconds": round(result.seconds, 3),
                "sample_rate": result.sample_rate,
                "channels": 2,
                "render_seconds": round(result.render_seconds, 3),
            }
        )
        return 0
    if result.engine != "fluidsynth":
        print(f"warning: {result.message}", file=sys.stderr)
    elif result.warnings:
        print(f"warning: {result.warnings}", file=sys.stderr)
    speed = result.seconds / max(result.render_seconds, 1e-6)
    what = f"{result.seconds:.1f} s, {result.sample_rate} Hz stereo"
    print(f"wrote {out}: {what} ({result.engine}, {speed:.0f}x real time)")
    if result.soundfont:
        print(f"SoundFont: {result.soundfont}")
    return 0
