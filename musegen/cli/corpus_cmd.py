"""``python -m musegen corpus build DIR`` / ``corpus list``: the pretraining corpus (music21's core corpus and
the built-in chorales in the base vocabulary, :mod:`musegen.datasets.corpus`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from musegen.cli import print_json
from musegen.datasets.corpus import build_corpus_store, list_collections


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "corpus",
        help="build the pretraining corpus (music21's core corpus, in the base vocabulary) into a token store",
        description="build: convert music21's core corpus and the built-in chorales (no download) into a token "
        "store in the fixed base vocabulary musegen-base-timed-v1, with a per-file report (vocab_report.jsonl) "
        "and corpus.json (counts, sources and licences per collection). list: the collections and their licences.",
    )
    p.add_argument("action", choices=("build", "list"), help="build a store, or list the collections")
    p.add_argument("dir", nargs="?", metavar="DIR", help="build: the store's folder (new or empty)")
    p.add_argument("--workers", type=int, default=1, help="build: worker processes (default 1)")
    p.add_argument("--limit", type=int, help="build: read only the first N files of the plan")
    p.add_argument("--collections", help="build: comma-separated collection names (default: all)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="build: share of pieces held out (by name hash)")
    p.add_argument("--overwrite", action="store_true", help="build: replace a finished store in DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = list_collections()
        if args.json:
            print_json({"ok": True, "collections": rows})
        else:
            for r in rows:
                print(f"{r['name']:<20} {r['files']:>5} files  [{r['status']}] {r['title']}: {r['licence']}")
        return 0
    if not args.dir:
        print("error: corpus build needs DIR, the store's folder", file=sys.stderr)
        return 2
    wanted = [c.strip() for c in args.collections.split(",") if c.strip()] if args.collections else None
    summary = build_corpus_store(
        args.dir,
        workers=args.workers,
        limit=args.limit,
        collections=wanted,
        val_fraction=args.val_fraction,
        overwrite=args.overwrite,
        on_progress=_progress,
    )
    print(file=sys.stderr)
    if args.json:
        print_json({"ok": True, **summary})
    else:
        _print_summary(summary)
    return 0


def _progress(done: int, total: int, pieces: int, name: str, seconds: float) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"[{done}/{total}] {pieces} pieces, {seconds:.0f} s: {name[:60]}", end=end, file=sys.stderr, flush=True)


def _print_summary(s: dict[str, Any]) -> None:
    t, st = s["totals"], s["store"]
    print(
        f"{t['files']} files ({t['errors']} unreadable, {t['skipped']} skipped): {st['pieces']} pieces, "
        f"{t['notes']:,} notes, {st['tokens']:,} tokens in {s['vocabulary']['name']}; held out "
        f"{st['val_pieces']} pieces, {st['val_tokens']:,} tokens; {t['duplicates']} duplicates left out"
    )
    for name, c in s["collections"].items():
        print(f"  {name:<20} {c['pieces']:>6} pieces {c['tokens']:>10,} tokens  [{c['status']}]")
