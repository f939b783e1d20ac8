"""The package's import direction (docs/architecture.md): a room imports only rooms on its own layer or below.

Every ``import hipmonai.X`` / ``from hipmonai.X import`` in the package, module-level or inside a function, is read
with :mod:`ast`; an import from a higher layer fails this test unless it is one of :data:`KNOWN_UPWARD`, the debt
still to remove (each entry names the importing file and the imported module). A removed debt must leave the list:
the test also fails on an entry that no longer occurs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hipmonai

PACKAGE = Path(hipmonai.__file__).parent

#: the layers, lowest first; a room may import its own layer and those below (docs/architecture.md)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "atomic", "paths"),
    ("io", "readers"),
    ("networks", "losses", "metrics"),
    ("transforms",),
    ("data",),
    ("engines", "handlers", "inference"),
    ("preprocessing", "evaluation", "phantoms"),
    ("experiments", "deploy", "monailabel", "cli", "__init__", "__main__"),
)
LAYER_OF = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}

#: upward imports that exist today (importing file, imported module): to be removed, never added to
KNOWN_UPWARD = {
    ("data/pelvis.py", "hipmonai.preprocessing.inputs"),
    ("inference/predict.py", "hipmonai.deploy.hip_analysis"),
    ("inference/predict.py", "hipmonai.experiments.bundle"),
    ("inference/predict.py", "hipmonai.preprocessing.inputs"),
    ("inference/predict.py", "hipmonai.preprocessing.detector"),
    ("preprocessing/detector.py", "hipmonai.experiments.bundle"),
}


def _room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hipmonai."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hipmonai."))
    return found


def _upward_imports() -> set[tuple[str, str]]:
    upward = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        room = _room(path)
        for module in _imports(path):
            target = module.split(".")[1]
            if target != room and LAYER_OF[target] > LAYER_OF[room]:
                upward.add((path.relative_to(PACKAGE).as_posix(), module))
    return upward


def test_every_room_has_a_layer():
    rooms = {_room(path) for path in PACKAGE.rglob("*.py")}
    assert rooms - set(LAYER_OF) == set()


def test_no_new_upward_import():
    new = _upward_imports() - KNOWN_UPWARD
    assert new == set(), f"imports against docs/architecture.md's direction: {sorted(new)}"


def test_known_upward_imports_still_exist():
    gone = KNOWN_UPWARD - _upward_imports()
    assert gone == set(), f"removed upward imports to delete from KNOWN_UPWARD: {sorted(gone)}"
