"""Task hooks and data formats are modules named in YAML: `scorer: bbq` is `bench.tasks.bbq`,
`format: bbq` is `bench.data.bbq`. Adding a task adds files, never a line to a shared registry.

A task kept outside the package (an include folder, see bench.tasks.registry) may name a module that sits
next to its YAML file: `DIR/NAME.py` is used where the package has no module NAME.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from bench.errors import UserError

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_include: list[Path] = []
command_line_dirs: list[Path] = []  # --include-path of the current command (set by the CLI, read by the registry)


def set_include_dirs(dirs: list[Path]) -> None:
    _include[:] = list(dict.fromkeys(Path(d).resolve() for d in dirs))


def named_module(package: str, name: str, where: str) -> ModuleType:
    """`package.name`, else `name.py` in an include folder, or a UserError naming `where` (file and field)."""
    if _NAME.fullmatch(name):
        if importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        for folder in _include:
            if (folder / f"{name}.py").is_file():
                return _from_file(folder / f"{name}.py")
    places = " or ".join([f"{package}/", *(str(d) for d in _include)])
    raise UserError(f"{where}: no module '{name}' (expected the name of a module in {places})")


def _from_file(path: Path) -> ModuleType:
    """Import a user's module by path, once, under a name that cannot collide with an installed package."""
    key = "qdbench_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12] + "_" + path.stem
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[key]
        raise UserError(f"{path}: cannot import ({type(e).__name__}: {e})") from None
    return module
