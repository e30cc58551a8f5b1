"""The piano-roll family: the shipped sets by name, the published rows, per-model peak memory, `benchmark poly`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musegen.experiments.jsb import SETS, format_report, resolve_data
from musegen.experiments.memory import PeakMemory
from musegen.experiments.published import ROWS, published, reference
from musegen.sources.mat import load_mat
from tests.evaluation.test_jsb import synthetic_pieces, write_mat


def test_the_three_sets_ship_inside_the_package_and_are_named():
    assert resolve_data(None) == SETS["jsb"]
    for name, stem in (("jsb", "JSB_Chorales"), ("MuseData", "MuseData"), ("piano_midi", "Piano_midi")):
        assert resolve_data(name).name == f"{stem}.mat" and resolve_data(name).is_file()
    assert str(resolve_data("some/other.mat")) == "some/other.mat"  # a path stays a path
    muse, piano = load_mat(SETS["musedata"]), load_mat(SETS["piano-midi"])
    assert (len(muse.train), len(muse.valid), len(muse.test)) == (524, 135, 124)
    assert sum(len(p) for p in muse.train) == 245_202
    assert (len(piano.train), len(piano.valid), len(piano.test)) == (87, 12, 25)
    assert max(len(p) for p in piano.train + piano.valid + piano.test) == 3857
    assert "MIT" in (SETS["jsb"].parent / "POLYPHONIC.README.md").read_text()


def test_every_published_row_says_its_source_and_whether_it_is_exact():
    assert {r.kind for r in ROWS} == {"exact", "bound"}
    assert all(r.source and r.nll > 0 for r in ROWS)
    assert (reference("JSB_Chorales"), reference("MuseData"), reference("Piano_midi")) == (5.56, 5.60, 7.05)
    assert reference("Tiny") is None and published("Tiny") == []
    jsb = published("jsb_chorales")
    assert [r.nll for r in jsb] == sorted(r.nll for r in jsb) and jsb[0].kind == "bound"


def test_the_report_table_marks_bounds():
    report = {
        "dataset": "JSB_Chorales",
        "machine": "2 cores",
        "date": "2026-12-07",
        "minutes_per_arch": 1,
        "scored": "nats",
        "models": [],
        "published": [r.as_dict() for r in published("JSB_Chorales")],
        "floors": {"bernoulli": {"valid": 11.0, "test": 11.1}, "markov": {"valid": 10.4, "test": 10.5}},
    }
    table = format_report(report)
    assert "| SRNN (smooth + Res_q) (Fraccaro" in table and "≤ 4.74 | published, bound" in table
    assert "| 5.56 | published, exact" in table


def test_peak_memory_sees_an_allocation_that_is_gone_by_the_end():
    with PeakMemory(interval_s=0.01) as before:
        pass
    with PeakMemory(interval_s=0.01) as peak:
        block = np.ones(200 * 1024 * 1024 // 8)  # 200 MB, touched
        import time

        time.sleep(0.1)
        del block
    assert peak.peak_mb > before.peak_mb + 150


pytestmark = pytest.mark.slow  # below: trains real models


def test_benchmark_poly_runs_every_set_with_the_same_settings(tmp_path, capsys):
    from musegen.cli import main

    rng = np.random.default_rng(3)
    paths = []
    for name in ("TinyA", "TinyB"):
        path = tmp_path / f"{name}.mat"
        write_mat(path, {s: synthetic_pieces(n, rng) for s, n in (("traindata", 6), ("validdata", 2), ("testdata", 2))})
        paths.append(str(path))
    tiny = ("units=8", "nade_hidden=8", "transpose=[0,0]")
    sets = [arg for value in tiny for arg in ("--set", value)]
    argv = ["benchmark", "poly", "--sets", ",".join(paths), "--arch", "lstm-nade", "--epochs", "1", *sets, "--json"]
    assert main([*argv, "--minutes", "1"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert [r["dataset"] for r in report["sets"]] == ["TinyA", "TinyB"]
    assert [(row["dataset"], row["arch"]) for row in report["summary"]] == [
        ("TinyA", "lstm-nade"),
        ("TinyB", "lstm-nade"),
    ]
    for r in report["sets"]:
        (m,) = r["models"]
        assert m["epochs"] == 1 and m["peak_rss_mb"] > 100 and m["settings"]["model"]["units"] == 8
    assert all(row["rnn_nade"] is None and row["below_rnn_nade"] is None for row in report["summary"])
    assert "TinyB lstm-nade epoch 1" in captured.err
    assert main(["benchmark", "poly", "--data", paths[0]]) == 2
    assert "takes --sets" in capsys.readouterr().err
