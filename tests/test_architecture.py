"""The package's shape, enforced: subpackages in one layer order (every import points down), no
import cycles among musegen modules, and function-local imports of musegen modules only where they
keep TensorFlow (or another heavy library) lazy."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "musegen"
# libraries a module may load lazily: seconds to import, or not needed until a model runs
HEAVY = {"tensorflow", "keras", "music21", "pretty_midi", "fluidsynth", "scipy", "pandas", "altair"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(musegen modules imported at module level, musegen modules imported inside functions,
    heavy libraries imported at module level) of one file; TYPE_CHECKING blocks do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    local: set[str] = set()
    heavy: set[str] = set()
    modules = _all_modules()

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out = []
            for a in node.names:  # "from musegen.x import y" names module musegen.x.y when y is one
                sub = f"{node.module}.{a.name}"
                out.append(sub if sub in modules else node.module)
            return out
        return []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            for name in targets(child):
                if name.startswith("musegen"):
                    (local if inner else top).add(name)
                elif not inner and name.split(".")[0] in HEAVY:
                    heavy.add(name.split(".")[0])
            visit(child, inner)

    visit(tree, False)
    return top, local, heavy


_MODULES: dict[str, Path] = {}


def _all_modules() -> dict[str, Path]:
    if not _MODULES:
        _MODULES.update({_module_name(p): p for p in PACKAGE.rglob("*.py")})
    return _MODULES


def _graph() -> dict[str, set[str]]:
    modules = _all_modules()
    graph = {}
    for name, path in modules.items():
        top, local, _ = _imports(path)
        graph[name] = {m for m in top | local if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


# The layer order, top first: a module may import its own subpackage and anything in a lower layer,
# never a higher one nor a peer of its own layer (the contracts, top-level modules, may import each
# other; the cycle test keeps them acyclic). docs/architecture.md draws the same list ("## Layers").
LAYERS: list[tuple[str, ...]] = [
    ("cli", "__main__"),
    ("experiments",),
    ("training",),
    ("evaluation",),
    ("generation",),
    ("runs",),
    ("datasets",),
    ("representations",),
    ("scoring",),
    ("steering",),
    ("models",),
    ("streams",),
    ("sources", "output", "metrics"),
    (
        "config",
        "errors",
        "notes",
        "vocabulary",
        "records",
        "fileio",
        "jsonio",
        "modelfile",
        "paths",
        "slots",
        "tf_setup",
    ),
]
CONTRACTS = LAYERS[-1]


def _unit(module: str) -> str:
    """The layer unit of a musegen module: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    unit = parts[1] if len(parts) > 1 else "__init__"
    return "cli" if unit == "__main__" else unit  # ``python -m musegen`` is the command line


def _every_import(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every musegen import in ``path``: top-level, function-local and TYPE_CHECKING."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("musegen.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "musegen":
                out += [(node.lineno, f"musegen.{a.name}") for a in node.names]
            elif node.module.startswith("musegen."):
                out.append((node.lineno, node.module))
    return out


def test_every_unit_of_the_package_has_a_layer():
    rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    units = {_unit(name) for name in _all_modules()} - {"__init__"}
    assert units <= set(rank), f"give these a layer in LAYERS and docs/architecture.md: {sorted(units - set(rank))}"


def test_imports_point_down_the_layers():
    """No import, function-local and TYPE_CHECKING ones included, from a lower layer to a higher one or
    between two subpackages of one layer."""
    rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    offenders = []
    for name, path in sorted(_all_modules().items()):
        me = _unit(name)
        if me == "__init__":
            continue
        for line, target in _every_import(path):
            other = _unit(target)
            if other in (me, "__init__") or (me in CONTRACTS and other in CONTRACTS):
                continue
            if rank[other] <= rank[me]:
                offenders.append(f"{path.relative_to(ROOT)}:{line} ({me}) imports {target} ({other}), not below it")
    assert not offenders, "\n".join(offenders)


def test_the_docs_draw_the_same_layers():
    """docs/architecture.md's layer list is this test's LAYERS, line for line."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("## Layers", 1)[1].split("```", 2)[1]
    drawn = [line.split("|")[0].split() for line in block.strip().splitlines()[1:]]
    drawn = [tuple(w.strip(",").removesuffix("/").removesuffix(".py") for w in row) for row in drawn if row]
    assert drawn == LAYERS


def test_no_import_cycles_among_musegen_modules():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_function_local_imports_only_keep_heavy_libraries_lazy():
    """A musegen module imported inside a function must (transitively) import TensorFlow, Keras or
    another heavy library at module level; anything else belongs at the top of the file."""
    modules = _all_modules()
    heavy_of = {name: _imports(path)[2] for name, path in modules.items()}
    top_of = {name: _imports(path)[0] for name, path in modules.items()}

    def is_heavy(name: str, seen: set[str]) -> bool:
        if heavy_of.get(name):
            return True
        seen.add(name)
        return any(is_heavy(m, seen) for m in top_of.get(name, ()) if m in modules and m not in seen)

    offenders = [
        f"{name} imports {target} in a function"
        for name, path in sorted(modules.items())
        for target in sorted(_imports(path)[1])
        if target in modules and not is_heavy(target, set())
    ]
    assert not offenders, "\n".join(offenders)


def test_the_library_never_imports_streamlit():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import streamlit" not in text and "from streamlit" not in text, path


def test_the_worked_example_of_a_new_representation_runs(chorales):
    """docs/architecture.md's "how to add a representation" works as written: registered, it
    builds datasets, round-trips and reloads from its vocabulary like the built-in ones."""
    from musegen.config import DataConfig
    from musegen.datasets.dataset import build_dataset
    from musegen.representations.registry import REGISTRY, for_vocab

    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    code = doc.split("## How to add a representation", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    module = types.ModuleType("melody_example")  # dataclasses look their module up in sys.modules
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, "docs/architecture.md", "exec"), module.__dict__)
        cfg = DataConfig(representation="melody", val_fraction=0.25)
        data = build_dataset(chorales[:8], cfg)
        rep = for_vocab(data.vocab)
        assert type(rep).__name__ == "MelodyRepresentation" and data.vocab.representation == "melody"
        melody = rep.decode(data.val[0])
        onsets = melody.notes[:, 0]
        assert melody.n_notes and len(np.unique(onsets)) == len(onsets)  # one note per onset: a single voice
    finally:
        REGISTRY.pop("melody", None)
        sys.modules.pop(module.__name__, None)
