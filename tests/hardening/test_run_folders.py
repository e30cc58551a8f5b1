"""Issue 17, "Model files and run folders": damaged run folders in a shared runs folder.

Each case is a copy of the bundled demo run with one file damaged (non-UTF-8 or 100,000-deep JSON,
the wrong shape, a folder where a file should be, a vocabulary of the wrong type, a ``data.npz``
that unpacks to 4 GB, lengths that do not add up...). The table drives the library
(``runs.load_run``, ``runs.list_runs``, ``Composer``, ``Composer.compose``), the job listing, the CLI
(in this process for every case, as a subprocess for a sample, and for all under ``-m slow``) and the
Generate page: every case is a clear MusegenError (exit 2 and a message), or, where the damage
only costs labels, generation goes on; never a traceback, and the other runs always list.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from musegen import cli, runs
from musegen.config import SamplingConfig
from musegen.errors import MusegenError
from musegen.generation.compose import Composer
from musegen.training import jobs
from tests.cli_runner import run_musegen
from tests.hardening.hostile import MB, ROOT, raw_zip, run_limited

DEMO = ROOT / "assets" / "models" / "demo-lstm"
DEEP = "[" * 100_000 + "]" * 100_000
NOT_UTF8 = b'{"state": "\xff\xfe\xfa"}'


def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        target = run / name
        if target.is_dir():
            shutil.rmtree(target)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def _json(name: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        value = json.loads((run / name).read_text())
        result = edit(value)
        (run / name).write_text(json.dumps(value if result is None else result))

    return damage


def _folder(name: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / name).unlink(missing_ok=True)
        (run / name).mkdir()

    return damage


def _remove(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).unlink()


def _arrays(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "data.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _npz(edit: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        arrays = _arrays(run)
        edit(arrays)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        (run / "data.npz").write_bytes(buf.getvalue())

    return damage


def npz_bomb(gb: float = 3.9) -> bytes:
    """A data.npz of about 4 MB whose train_ids member really unpacks to ``gb`` GB of zeros."""
    n = int(gb * 1024**3) // 4
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i4", "fortran_order": False, "shape": (n,)})
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = comp.compress(header.getvalue()) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(MB)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream += block * (n * 4 // MB) + comp.flush()
    size = len(header.getvalue()) + n * 4
    small = io.BytesIO()
    np.lib.format.write_array(small, np.zeros(0, np.int64))
    rest = small.getvalue()
    members = [("train_ids.npy", zipfile.ZIP_DEFLATED, stream, 0, size)]
    for name in ("train_lengths", "val_ids", "val_lengths"):
        members.append((f"{name}.npy", zipfile.ZIP_STORED, rest, zlib.crc32(rest), len(rest)))
    return raw_zip(members)


def _bomb(run: Path) -> None:
    (run / "data.npz").write_bytes(npz_bomb())


def _header_claims_more(run: Path) -> None:
    """train_ids' .npy header declares 10**9 ids in a member of a few KB."""
    arrays = _arrays(run)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in arrays.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, array)
            raw = data.getvalue()
            if name == "train_ids":
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(head, {"descr": "<i4", "fortran_order": False, "shape": (10**9,)})
                raw = head.getvalue() + raw[len(head.getvalue()) :]
            zf.writestr(f"{name}.npy", raw)
    (run / "data.npz").write_bytes(buf.getvalue())


def _pickled(run: Path) -> None:
    arrays = _arrays(run)
    buf = io.BytesIO()
    objects = np.empty(2, dtype=object)
    objects[:] = [[1], [2]]
    np.savez(buf, **{**arrays, "train_ids": objects})
    (run / "data.npz").write_bytes(buf.getvalue())


def _set(path: str, value: object) -> Callable[[dict], None]:
    """Set ``a.b.c`` of a JSON object."""

    def edit(d: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            d = d[key]
        d[last] = value

    return edit


def _drop_token(d: dict) -> None:
    d["tokens"] = d["tokens"][:-1]


OK = "ok"  # the damage only costs labels: generation goes on
# name -> (damage, words the message must contain, or OK)
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # config.json
    "config not UTF-8": (_write("config.json", NOT_UTF8), "not UTF-8"),
    "config 100,000 deep": (_write("config.json", DEEP), "nests 100,000 levels deep"),
    "config a list": (_write("config.json", "[]"), "not a valid musegen configuration"),
    "config a string": (_write("config.json", '"model"'), "not a valid musegen configuration"),
    "config empty": (_write("config.json", ""), "not valid JSON"),
    "config null": (_write("config.json", "null"), "not a musegen run"),
    "config data a list": (_json("config.json", _set("data", [])), "expected an object for DataConfig"),
    "config unknown arch": (_json("config.json", _set("model.arch", "gpt")), "arch must be one of"),
    "config window text": (_json("config.json", _set("data.window", "abc")), "window must be a whole number"),
    "config transpose of 3": (_json("config.json", _set("data.transpose", [1, 2, 3])), "not a valid musegen"),
    "config val_fraction text": (_json("config.json", _set("data.val_fraction", "x")), "not a valid musegen"),
    "config a folder": (_folder("config.json"), "is a folder"),
    "config 20 MB": (_write("config.json", b" " * (20 * MB)), "over the limit of 16 MB"),
    "config of another representation": (
        _json("config.json", _set("data.representation", "pianoroll")),
        "of the 'timed' representation but its config.json says 'pianoroll'",
    ),
    # status.json
    "status not UTF-8": (_write("status.json", NOT_UTF8), "not UTF-8"),
    "status 100,000 deep": (_write("status.json", DEEP), "nests 100,000 levels deep"),
    "status a list": (_write("status.json", "[]"), "holds a list, not a run status"),
    "status null": (_write("status.json", "null"), "holds a NoneType"),
    "status state a number": (_json("status.json", _set("state", 5)), "unknown state '5'"),
    "status state unknown": (_json("status.json", _set("state", "exploded")), "unknown state 'exploded'"),
    "status a folder": (_folder("status.json"), "is a folder"),
    # history.json
    "history not UTF-8": (_write("history.json", NOT_UTF8), "not UTF-8"),
    "history 100,000 deep": (_write("history.json", DEEP), "nests 100,000 levels deep"),
    "history a list": (_write("history.json", "[]"), "does not hold a training history"),
    "history epochs text": (_json("history.json", _set("epochs", "many")), "History.epochs"),
    "history epoch text": (_json("history.json", lambda d: d["epochs"][0].update(epoch="x")), "EpochRecord.epoch"),
    "history best value text": (_json("history.json", _set("best_value", "low")), "History.best_value"),
    "history a folder": (_folder("history.json"), "is a folder"),
    # metrics.json
    "metrics not UTF-8": (_write("metrics.json", NOT_UTF8), "not UTF-8"),
    "metrics 100,000 deep": (_write("metrics.json", DEEP), "nests 100,000 levels deep"),
    "metrics a list": (_write("metrics.json", "[]"), "does not hold held-out metrics"),
    "metrics model a number": (_json("metrics.json", _set("model", 5)), "Metrics.model"),
    "metrics a folder": (_folder("metrics.json"), "is a folder"),
    # vocab.json
    "vocab missing": (_remove("vocab.json"), "cannot read the vocabulary"),
    "vocab not UTF-8": (_write("vocab.json", NOT_UTF8), "not UTF-8"),
    "vocab 100,000 deep": (_write("vocab.json", DEEP), "nests 100,000 levels deep"),
    "vocab a list": (_write("vocab.json", "[]"), "holds a list, not a musegen vocabulary"),
    "vocab tokens null": (_json("vocab.json", _set("tokens", None)), "tokens must be a list of strings"),
    "vocab tokens numbers": (_json("vocab.json", _set("tokens", [1, 2, 3])), "tokens must be a list of strings"),
    "vocab no specials": (_json("vocab.json", lambda d: d["tokens"].reverse()), "must start with <pad>"),
    "vocab a token twice": (_json("vocab.json", lambda d: d["tokens"].append("Pitch_60")), "lists a token twice"),
    "vocab an unreadable time shift": (
        _json("vocab.json", lambda d: d["tokens"].__setitem__(3, "TimeShift_x")),
        "settings or tokens are damaged",
    ),
    "vocab meta a list": (_json("vocab.json", _set("meta", [4])), "meta must be an object"),
    "vocab meta missing": (_json("vocab.json", lambda d: d.pop("meta") and None), OK),
    "vocab steps_per_beat 0": (_json("vocab.json", _set("meta.steps_per_beat", 0)), "steps_per_beat is 0"),
    "vocab steps_per_beat text": (_json("vocab.json", _set("meta.steps_per_beat", "4")), "steps_per_beat is '4'"),
    "vocab max_steps 10**9": (_json("vocab.json", _set("meta.max_steps", 10**9)), "max_steps is 1000000000"),
    "vocab unknown representation": (
        _json("vocab.json", _set("representation", "midi2")),
        "of the 'midi2' representation",
    ),
    "vocab representation a number": (_json("vocab.json", _set("representation", 5)), "must be a name"),
    # the last token is <fim_end>, which no stored piece holds: the model's width gives the damage away
    "vocab one token short": (_json("vocab.json", _drop_token), "predicts 167 tokens but run"),
    "vocab a folder": (_folder("vocab.json"), "not a regular file"),
    # pieces.json: names for people only
    "pieces a list": (_write("pieces.json", "[]"), OK),
    "pieces names a number": (_write("pieces.json", '{"train": 5, "val": [1, 2]}'), OK),
    "pieces not UTF-8": (_write("pieces.json", NOT_UTF8), OK),
    "pieces 100,000 deep": (_write("pieces.json", DEEP), OK),
    # data.npz
    "data missing": (_remove("data.npz"), "has no data.npz"),
    "data garbage": (_write("data.npz", b"not a zip at all" * 100), "is damaged"),
    "data truncated": (lambda run: (run / "data.npz").write_bytes((DEMO / "data.npz").read_bytes()[:5000]), "damaged"),
    "data unpacks to 4 GB": (_bomb, "unpack to 3,994 MB, over the limit of 2,048 MB"),
    "data header claims 4 GB": (_header_claims_more, "declares 4,000,000,000 bytes"),
    "data of objects (pickle)": (_pickled, "holds object values, not integers"),
    "data of floats": (_npz(lambda a: a.update(train_ids=a["train_ids"].astype(np.float32))), "not integers"),
    "data lengths do not add up": (_npz(lambda a: a.update(val_lengths=a["val_lengths"] + 1)), "do not add up"),
    "data negative lengths": (_npz(lambda a: a.update(val_lengths=-a["val_lengths"])), "not a list of counts"),
    "data ids outside the vocabulary": (_npz(lambda a: a.update(val_ids=a["val_ids"] + 10_000)), "outside the vocab"),
    "data ids of 3 dimensions": (_npz(lambda a: a.update(val_ids=a["val_ids"][:, None, None])), "has the shape"),
    "data a member missing": (_npz(lambda a: a.pop("val_lengths")), "no array 'val_lengths'"),
    # model.keras
    "model missing": (_remove("model.keras"), "no model.keras yet"),
    "model a folder": (_folder("model.keras"), "no model.keras yet"),
}
# the cases a page can still show as runs (the others are listed as "broken")
BROKEN = {name for name in CASES if name.split()[0] in ("config", "status", "history", "metrics")}
BROKEN -= {"config of another representation"}
SUBPROCESS_SAMPLE = ("config 100,000 deep", "status a list", "vocab tokens null", "data unpacks to 4 GB")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A runs folder: the good demo run and one damaged copy per case (case-0, case-1, ...)."""
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(DEMO, root / "good", ignore=shutil.ignore_patterns("last.keras"))
    for i, (_, (damage, _)) in enumerate(CASES.items()):
        run = root / f"case-{i:02d}"
        shutil.copytree(root / "good", run)
        damage(run)
    return root


def _run(folder: Path, name: str) -> Path:
    return folder / f"case-{list(CASES).index(name):02d}"


def _compose(run: Path):
    composer = Composer(run)
    seed = composer.seed_from_piece(0, 0, 16)
    return composer.compose(seed, SamplingConfig(length=8, seed=0))


@pytest.mark.parametrize("name", list(CASES))
def test_the_library_gives_a_reason_for_every_damaged_run(folder, name):
    words = CASES[name][1]
    if words == OK:
        assert _compose(_run(folder, name)).token_counts == [8]
        return
    with pytest.raises(MusegenError) as exc:
        _compose(_run(folder, name))
    message = str(exc.value)
    assert words in message, message
    assert len(message) < 800, message


def test_one_damaged_folder_never_hides_the_others(folder):
    listed = {info.run_id: info for info in runs.list_runs(folder)}
    assert len(listed) == 1 + len(CASES)  # every case, "config a folder" included
    assert listed["good"].status == "finished" and listed["good"].epochs_done == 20  # the demo LSTM's epochs
    for name in CASES:
        info = listed[_run(folder, name).name]
        if name in BROKEN:
            assert info.status == "broken" and CASES[name][1] in info.message, (name, info.message)
        else:
            assert info.status == "finished", (name, info.status, info.message)
    assert any(j.run_id == "good" for j in jobs.list_jobs(folder))  # the job listing skips the damaged ones


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_load_run_and_job_status_refuse_with_the_reason(folder, name):
    with pytest.raises(MusegenError, match=None) as exc:
        runs.load_run(_run(folder, name))
    assert CASES[name][1] in str(exc.value)
    with pytest.raises(MusegenError):
        jobs.job_status(_run(folder, name))


def test_job_listing_survives_damaged_job_files(folder, tmp_path):
    shared = tmp_path / "runs"
    for i, job in enumerate(("[]", '{"created": "yesterday", "owner": {"a": 1}, "data": [5, null]}', DEEP, "\xff")):
        shutil.copytree(folder / "good", shared / f"job-{i}")
        (shared / f"job-{i}" / "job.json").write_text(job, encoding="utf-8", errors="surrogateescape")
    listed = jobs.list_jobs(shared)
    assert {j.run_id for j in listed} == {"job-0", "job-1"}  # the unreadable job.json ones are skipped
    assert jobs.upload_folders_in_use(shared) == []
    assert jobs.run_owner(shared / "job-2") is None


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][1] != OK])
def test_cli_generate_exits_2_with_the_reason(folder, name, tmp_path, capsys):
    out = tmp_path / "x.mid"
    code = cli.main(["generate", str(_run(folder, name)), "--length", "8", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("error: ") and CASES[name][1] in err, err
    assert not out.exists()


def _cli_subprocess(run: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musegen", "generate", str(run), "--length", "8", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "MUSEGEN_TF_THREADS": "1"},
    )


def _check_subprocess(folder: Path, name: str, tmp_path: Path, real: bool = True) -> None:
    """The command on one damaged run: a real ``python -m musegen`` process, or (``real=False``) the same command
    in this process (tests/cli_runner.py), which shows the same exit code, output and any traceback."""
    out = tmp_path / "x.mid"
    if real:
        proc = _cli_subprocess(_run(folder, name), out)
    else:
        proc = run_musegen("generate", str(_run(folder, name)), "--length", "8", "--out", str(out), cwd=ROOT)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if CASES[name][1] == OK:
        assert proc.returncode == 0 and out.is_file(), proc.stderr[-2000:]
    else:
        assert proc.returncode == 2 and CASES[name][1] in proc.stderr, proc.stderr[-2000:]
        assert not out.exists()


@pytest.mark.parametrize("name", SUBPROCESS_SAMPLE)
def test_cli_subprocess_sample(folder, name, tmp_path):
    _check_subprocess(folder, name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CASES if n not in SUBPROCESS_SAMPLE])
def test_cli_subprocess_every_case(folder, name, tmp_path):
    _check_subprocess(folder, name, tmp_path, real=False)  # the sample above runs the real process


def test_the_4_gb_npz_and_deep_json_stay_within_memory_and_time_limits(folder):
    """The 4 MB data.npz that unpacks to 4 GB, and 100,000-deep JSON in every file, under RLIMIT_AS/CPU."""
    bomb = _run(folder, "data unpacks to 4 GB")
    deep = [str(_run(folder, n)) for n in CASES if "100,000 deep" in n]
    case = f"""
        mark()
        reasons = []
        for call in (lambda: runs.load_dataset({str(bomb)!r}), lambda: Composer({str(bomb)!r}).pieces()):
            try:
                call()
                reasons.append(None)
            except MusegenError as exc:
                reasons.append(str(exc))
        listed = runs.list_runs({str(folder)!r})
        for run in {deep!r}:
            try:
                runs.load_run(run)
            except MusegenError as exc:
                reasons.append(str(exc))
        report({{"reasons": reasons, "listed": len(listed)}})
        """
    imports = "from musegen import runs\nfrom musegen.errors import MusegenError\n"
    imports += "from musegen.generation.compose import Composer"
    result = run_limited(case, imports=imports, memory_mb=400, cpu_s=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(result.result["reasons"]) and result.result["listed"] == 1 + len(CASES)
    assert result.grew_mb < 200 and result.cpu_s < 15, (result.grew_mb, result.cpu_s)
    print(f"run folders: grew {result.grew_mb:.0f} MB, peak {result.peak_mb:.0f} MB, {result.cpu_s:.2f} s CPU")


@pytest.mark.slow  # the Generate page in AppTest loads TensorFlow and the app
def test_the_generate_page_shows_the_reason_and_goes_on(folder, tmp_path, monkeypatch):
    from tests import app_helpers as ui

    demo = tmp_path / "demo"
    demo.mkdir()
    picked = ("vocab tokens null", "data unpacks to 4 GB", "vocab an unreadable time shift")
    for name in picked:
        shutil.copytree(_run(folder, name), demo / _run(folder, name).name)
    shutil.copytree(folder / "good", demo / "good")
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(demo))
    at = ui.app()
    at.switch_page(ui.GENERATE).run()
    assert not at.exception, at.exception
    picker = ui.widget(at.selectbox, "Model")
    for name in (*picked, None):
        run_id = _run(folder, name).name if name else "good"
        picker = ui.widget(at.selectbox, "Model")
        matches = [i for i, label in enumerate(picker.options) if label.startswith(run_id)]
        if not matches:  # a run the page cannot even list is not offered: also fine
            continue
        picker.select_index(matches[0]).run()
        buttons = [b for b in at.button if b.label.startswith("Generate")]
        if buttons:
            buttons[0].click().run()
        assert not at.exception, (name, at.exception)
        if name:
            assert any(CASES[name][1] in e.value for e in at.error), (name, [e.value for e in at.error])
