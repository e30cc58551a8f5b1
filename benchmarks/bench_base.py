"""The base model's held-out NLL on every held-out piece of its corpus, overall and per collection.

``python -m benchmarks.bench_base [--base NAME|DIR] [--store DIR] [--json OUT]`` (``python -m benchmarks base``).

The run's own ``metrics.json`` scores the sample of held-out pieces kept in its folder (at most 200
pieces); this scores all of them, read from the corpus token store (``--store``, default the one the
base was trained on, else ``.cache/corpus``), in the base's window, as ``rep.score`` scores any run:
nats per token of every token after a piece's first, with the context of a sliding window. The
collections are the first part of each piece's name. Skipped, with the reason, where the base or the
store is absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STORE = ROOT / ".cache" / "corpus"


def store_of(base: Any, given: str | None) -> Path:
    """The store to read: ``given``, else the one the base trained on, else ``.cache/corpus``."""
    if given:
        return Path(given)
    recorded = json.loads((Path(base.path) / "store.json").read_text(encoding="utf-8")).get("path", "")
    return Path(recorded) if recorded and Path(recorded).is_dir() else DEFAULT_STORE


def score_all(base: Any, store: Any) -> dict[str, Any]:
    """The base's NLL on each collection's held-out pieces and on all of them (token-weighted)."""
    import numpy as np

    from musegen.representations.registry import for_vocab
    from musegen.streams.store import VAL

    rep = for_vocab(base.vocab())
    model = base.load_model("best")
    chosen = store.indices(VAL)
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for i, name in zip(chosen, store.names(chosen), strict=True):
        groups[name.split("/")[0]].append(np.asarray(store.piece(int(i)), dtype=np.int32))
    rows, total_nll, total_tokens = [], 0.0, 0
    window, arch = base.config.data.window, base.config.model.arch
    t0 = time.perf_counter()
    for collection, seqs in sorted(groups.items(), key=lambda kv: -sum(len(s) for s in kv[1])):
        scores = rep.score(model, seqs, window, arch)
        rows.append({"collection": collection, "pieces": len(seqs), "tokens": int(scores["tokens"]),
                     "nll": round(float(scores["nll"]), 4)})  # fmt: skip
        total_nll += float(scores["nll"]) * int(scores["tokens"])
        total_tokens += int(scores["tokens"])
        print(f"  {collection}: {rows[-1]['nll']:.3f} nats per token on {rows[-1]['tokens']:,} tokens", flush=True)
    return {
        "nll": round(total_nll / max(1, total_tokens), 4),
        "tokens": total_tokens,
        "pieces": len(chosen),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "collections": rows,
    }


def main(argv: list[str] | None = None) -> None:
    from musegen.errors import MusegenError
    from musegen.streams.store import open_store
    from musegen.training.finetune import resolve_base

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_base", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="musegen-base")
    parser.add_argument("--store")
    parser.add_argument("--json")
    args = parser.parse_args(argv if argv is not None else [])
    try:
        base = resolve_base(args.base)
        store = open_store(store_of(base, args.store))
    except MusegenError as exc:
        print(f"skipped: {exc}")
        return
    result = score_all(base, store)
    sample = base.metrics.model.nll if base.metrics is not None else float("nan")
    print(f"held-out NLL {result['nll']:.4f} nats per token on all {result['pieces']:,} held-out pieces "
          f"({result['tokens']:,} tokens; the run's sample of them: {sample:.4f}), {result['seconds']} s, "
          f"peak RSS {result['peak_rss_mb']} MB")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
