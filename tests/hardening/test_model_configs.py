"""Issue 17, "Model files and run folders": a ``model.keras`` whose config asks for absurd sizes.

Each hostile archive is the bundled demo model with its ``config.json`` (or its weights) replaced:
100,000 dilations or LSTM layers, a dilation of 2**24 (a SIGSEGV in TensorFlow), a config that
unzips to 3 GB, a Dense of 10**6 units, a chain of 10,000 layers, 10,000-deep JSON... Every one is
refused by :func:`musegen.modelfile.check_model_file` before Keras builds anything (TensorFlow is
not even imported), with a :class:`ModelLoadError` saying what is wrong and what to do; the whole
table runs once more in a subprocess under RLIMIT_AS / RLIMIT_CPU, so a regression fails the test,
not the machine.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from musegen import modelfile
from musegen.config import ModelConfig
from musegen.errors import ModelLoadError
from musegen.modelfile import check_model_config, check_model_file, json_depth, parse_json
from tests.hardening.hostile import MB, ROOT, raw_zip, run_limited

DEMO = ROOT / "assets" / "models"
LSTM, WAVENET = DEMO / "demo-lstm" / "model.keras", DEMO / "demo-wavenet" / "model.keras"


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _archive(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _config(path: Path) -> dict:
    return json.loads(_members(path)["config.json"])


def _with_config(path: Path, config: dict | str | bytes) -> bytes:
    members = _members(path)
    raw = config if isinstance(config, bytes) else (config if isinstance(config, str) else json.dumps(config)).encode()
    members["config.json"] = raw
    return _archive(members)


def _layer(config: dict, class_name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


def _edit(path: Path, class_name: str, **values) -> bytes:
    config = _config(path)
    _layer(config, class_name)["config"].update(values)
    return _with_config(path, config)


def _chain(n: int) -> bytes:
    """The LSTM demo with ``n`` Dense layers chained before its head (10,000: a RecursionError after 40 s)."""
    config = _config(LSTM)
    layers = config["config"]["layers"]
    dense = copy.deepcopy(_layer(config, "Dense"))
    chain = []
    for i in range(n):
        layer = copy.deepcopy(dense)
        layer["name"] = layer["config"]["name"] = f"d{i}"
        layer["config"]["units"] = 8
        chain.append(layer)
    config["config"]["layers"] = layers[:-1] + chain + layers[-1:]
    return _with_config(LSTM, config)


def _nested(depth: int) -> bytes:
    return _with_config(LSTM, "[" * depth + "]" * depth)


def _deflated_config(declared: int, real_mb: int) -> bytes:
    """config.json as a deflate stream of ``real_mb`` MB of spaces, its directory claiming ``declared`` bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(b" " * MB) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * real_mb + comp.flush()
    crc = 0
    for _ in range(real_mb):
        crc = zlib.crc32(b" " * MB, crc)
    good = _members(LSTM)
    meta = good["metadata.json"]
    members = [("metadata.json", 0, meta, zlib.crc32(meta), len(meta))]
    members.append(("config.json", zipfile.ZIP_DEFLATED, stream, crc, declared))
    return raw_zip(members)


def _huge_weights_claim() -> bytes:
    good = _members(LSTM)
    members = [(n, 0, d, zlib.crc32(d), len(d)) for n, d in good.items() if n != "model.weights.h5"]
    members.append(("model.weights.h5", zipfile.ZIP_DEFLATED, zlib.compress(b"\0" * 1000)[2:-4], 0, 3 * 1024 * MB))
    return raw_zip(members)


def _h5_shape_bomb() -> bytes:
    """Weights whose one dataset declares 4 GiB and stores next to nothing (chunked, compressed, never written)."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.create_dataset("layers/embedding/vars/0", shape=(2**30,), dtype="f4", chunks=(2**16,), compression="gzip")
    members = _members(LSTM)
    members["model.weights.h5"] = buf.getvalue()
    return _archive(members)


def _bzip2_config() -> bytes:
    return _archive(_members(LSTM), method=zipfile.ZIP_BZIP2)


def _many_entries() -> bytes:
    members = _members(LSTM)
    members.update({f"assets/{i}": b"" for i in range(200)})
    return _archive(members)


def _sequential() -> bytes:
    config = _config(LSTM)
    config["class_name"] = "Sequential"
    return _with_config(LSTM, config)


def _class(name: str, registered: str | None = None, module: str = "keras.layers") -> bytes:
    config = _config(LSTM)
    layer = _layer(config, "Dense")
    layer.update(class_name=name, registered_name=registered, module=module)
    return _with_config(LSTM, config)


def _shape(dim: int) -> bytes:
    config = _config(LSTM)
    _layer(config, "InputLayer")["config"]["batch_shape"] = [None, dim]
    return _with_config(LSTM, config)


def _wide_build() -> bytes:
    config = _config(LSTM)
    _layer(config, "Dense")["build_config"]["input_shape"] = [None, None, 60_000]
    _layer(config, "Dense")["config"]["units"] = 1000
    return _with_config(LSTM, config)


# name -> (archive builder, words the message must contain)
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "100,000 WaveNet dilations": (lambda: _edit(WAVENET, "WaveNetStack", dilations=[1] * 100_000), "100,000 dilations"),
    "a dilation of 2**24": (lambda: _edit(WAVENET, "WaveNetStack", dilations=[1, 2**24]), "dilation of 16777216"),
    "a dilation of 0": (lambda: _edit(WAVENET, "WaveNetStack", dilations=[0]), "dilation of 0"),
    "dilations not a list": (lambda: _edit(WAVENET, "WaveNetStack", dilations="1,2"), "dilations '1,2'"),
    "a kernel of 10,000": (lambda: _edit(WAVENET, "WaveNetStack", kernel_size=10_000), "kernel_size = 10000"),
    "100,000 WaveNet channels": (lambda: _edit(WAVENET, "WaveNetStack", channels=100_000), "channels = 100000"),
    "100,000 LSTM layers": (lambda: _edit(LSTM, "RecurrentStack", layers=100_000), "layers = 100000"),
    "LSTM units as a string": (lambda: _edit(LSTM, "RecurrentStack", units="128"), "units = '128'"),
    "LSTM units negative": (lambda: _edit(LSTM, "RecurrentStack", units=-1), "units = -1"),
    "LSTM units true": (lambda: _edit(LSTM, "RecurrentStack", units=True), "units = True"),
    "a Dense of 10**6 units": (lambda: _edit(LSTM, "Dense", units=10**6), "units = 1000000"),
    "an Embedding of 10**6 tokens": (lambda: _edit(LSTM, "Embedding", input_dim=10**6), "input_dim = 1000000"),
    "50 M parameters": (lambda: _edit(LSTM, "Embedding", input_dim=65_536, output_dim=4096), "50 M parameters"),
    "a Dense built on 60,000 inputs": (_wide_build, "50 M parameters"),
    "an input of 10**9 steps": (lambda: _shape(10**9), "dimension 1000000000"),
    "an input of -1 steps": (lambda: _shape(-1), "dimension -1"),
    "a chain of 10,000 layers": (lambda: _chain(10_000), "unpacks to 9.2 MB, over the limit of 4 MB"),
    "a chain of 1,000 layers": (lambda: _chain(1000), "1,004 layers"),
    "10,000-deep nested JSON": (lambda: _nested(10_000), "nests 10,000 levels deep"),
    "a config.json that unzips to 3 GB": (lambda: _deflated_config(3 * 1024 * MB, 8), "over the limit of 4 MB"),
    "a config.json that inflates past its claim": (lambda: _deflated_config(1000, 8), "damaged"),
    "a config.json of 8 MB of spaces": (lambda: _deflated_config(8 * MB, 8), "over the limit of 4 MB"),
    "config.json not UTF-8": (lambda: _with_config(LSTM, b'{"a": "\xff\xfe"}'), "not UTF-8"),
    "config.json not JSON": (lambda: _with_config(LSTM, b"{not json"), "not valid JSON"),
    "config.json a list": (lambda: _with_config(LSTM, "[]"), "not a model configuration"),
    "no layers": (lambda: _with_config(LSTM, {"class_name": "Functional", "config": {"layers": []}}), "no layers"),
    "a layer that is a number": (
        lambda: _with_config(LSTM, {"class_name": "Functional", "config": {"layers": [5]}}),
        "not a layer",
    ),
    "a Sequential model": (_sequential, "not one of musegen's models"),
    "a Lambda layer": (lambda: _class("Lambda"), "Lambda layer"),
    "a foreign layer": (
        lambda: _class("Foreign", "Foreign", "evil.module"),
        "class 'Foreign' from the module 'evil.module'",
    ),
    "a musegen inner layer at the top": (
        lambda: _class("GatedResidualBlock", "musegen>GatedResidualBlock", "musegen.models.layers"),
        "musegen>GatedResidualBlock",
    ),
    "a Dense from a foreign module": (lambda: _class("Dense", None, "evil.layers"), "module 'evil.layers'"),
    "weights claiming 3 GB": (_huge_weights_claim, "weights (model.weights.h5) unpack to 3,072 MB"),
    "an HDF5 shape bomb": (_h5_shape_bomb, "declare more than"),
    "a bzip2-compressed archive": (_bzip2_config, "compression method 12"),
    "200 archive entries": (_many_entries, "lists 203 files"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-models")
    paths = {}
    for i, (name, (build, _)) in enumerate(CASES.items()):
        paths[name] = folder / f"case{i}.keras"
        paths[name].write_bytes(build())
    return paths


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_model_file_is_refused_before_keras_builds_it(hostile, name):
    with pytest.raises(ModelLoadError) as exc:
        check_model_file(hostile[name])
    message = str(exc.value)
    assert CASES[name][1] in message, message
    assert "retrain" in message.lower(), message
    assert len(message) < 600, message


def test_every_model_musegen_builds_passes_with_its_parameter_count(tmp_path):
    for path in (LSTM, WAVENET, LSTM.with_name("last.keras")):
        assert check_model_file(path) == path
    assert check_model_config(_config(LSTM)) == 109_319  # keras: model.count_params()
    assert check_model_config(_config(WAVENET)) == 146_199


def test_the_largest_models_musegen_can_train_are_within_the_config_limits():
    """The limits mirror ModelConfig.validate's: its largest values validate and its next ones do not."""
    largest = ModelConfig(arch="wavenet", dilation_cycle=16, stacks=16, kernel_size=modelfile.MAX_KERNEL)
    largest.validate()
    assert modelfile.MAX_DILATIONS == 16 * 16 and 2 ** (largest.dilation_cycle - 1) == modelfile.MAX_DILATION
    ModelConfig(arch="lstm", layers=modelfile.MAX_RECURRENT_LAYERS, units=modelfile.MAX_WIDTH).validate()
    for too_big in (
        {"dilation_cycle": 17},
        {"stacks": 17},
        {"layers": modelfile.MAX_RECURRENT_LAYERS + 1},
        {"units": modelfile.MAX_WIDTH + 1},
        {"kernel_size": modelfile.MAX_KERNEL + 1},
        {"transformer_layers": modelfile.MAX_TRANSFORMER_LAYERS + 1},
        {"heads": modelfile.MAX_HEADS + 1},
        {"ff_mult": modelfile.MAX_FF_MULT + 1},
        {"attention_span": modelfile.MAX_SPAN + 1},
    ):
        with pytest.raises(Exception, match="must be"):
            ModelConfig(**too_big).validate()


def test_json_depth_counts_brackets_outside_strings_without_recursion():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(b'"\\"[[[" ') == 0
    assert json_depth(b"[" * 100_000) == 100_000
    with pytest.raises(ValueError, match="nests 100,000 levels"):
        parse_json("[" * 100_000 + "]" * 100_000, "x.json")
    assert parse_json(b'{"a": [1, 2]}', "x.json") == {"a": [1, 2]}


def test_the_table_runs_within_memory_and_time_limits_without_tensorflow(hostile):
    """Every case again in a fresh process capped at +300 MB and 30 CPU seconds; TensorFlow stays unimported."""
    case = f"""
        mark()
        refused = {{}}
        for name, path in {json.dumps({k: str(v) for k, v in hostile.items()})}.items():
            try:
                check_model_file(path)
                refused[name] = None
            except ModelLoadError as exc:
                refused[name] = str(exc)
        report({{"refused": refused, "tensorflow": "tensorflow" in sys.modules}})
        """
    imports = "from musegen.modelfile import check_model_file\nfrom musegen.errors import ModelLoadError\nimport h5py"
    result = run_limited(case, imports=imports, memory_mb=300, cpu_s=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.result["tensorflow"] is False
    assert all(result.result["refused"].values()), [k for k, v in result.result["refused"].items() if not v]
    assert result.grew_mb < 200 and result.cpu_s < 20, (result.grew_mb, result.cpu_s)
    print(f"model table: grew {result.grew_mb:.0f} MB, peak {result.peak_mb:.0f} MB, {result.cpu_s:.2f} s CPU")


@pytest.mark.slow  # imports TensorFlow and loads a model
def test_keras_errors_keep_their_reason_an_h5_external_dataset(tmp_path):
    """Keras's message starts "A total of 1 objects could not be loaded. Example error message for object
    <...>:" and gives the reason on a later line: load_model keeps it."""
    import h5py

    from musegen.models import load_model

    members = _members(LSTM)
    source = h5py.File(io.BytesIO(members["model.weights.h5"]), "r")
    names: list[str] = []
    source.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    external = tmp_path / "external.bin"
    buf = io.BytesIO()
    with h5py.File(buf, "w") as out:
        for i, name in enumerate(names):
            array = source[name][()]
            if i == 0:
                external.write_bytes(array.tobytes())
                out.create_dataset(
                    name, shape=array.shape, dtype=array.dtype, external=[(str(external), 0, array.nbytes)]
                )
            else:
                out.create_dataset(name, data=array)
    members["model.weights.h5"] = buf.getvalue()
    path = tmp_path / "model.keras"
    path.write_bytes(_archive(members))
    assert check_model_file(path) == path  # sizes are fine: Keras itself refuses the external dataset
    with pytest.raises(ModelLoadError) as exc:
        load_model(path)
    message = str(exc.value)
    assert "Not allowed: H5 file with external Dataset" in message, message
    assert "List of objects" not in message and len(message) < 700, message
    assert "retrain" in message


def test_generate_on_a_run_with_a_hostile_model_exits_2_without_a_traceback(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(LSTM.parent, run, ignore=shutil.ignore_patterns("last.keras"))
    (run / "model.keras").write_bytes(_edit(WAVENET, "WaveNetStack", dilations=[1, 2**24]))
    out = tmp_path / "x.mid"
    proc = subprocess.run(
        [sys.executable, "-m", "musegen", "generate", str(run), "--length", "8", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "dilation of 16777216" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
