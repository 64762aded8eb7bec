"""The core stays sans-IO: no trio, no sockets, no clock, no randomness."""

import ast
from pathlib import Path

import pytest

import actors.conversation

FORBIDDEN = {"trio", "socket", "time", "random", "secrets", "asyncio", "sqlite3", "os", "datetime"}
PURE_MODULES = ["core.py", "model.py"]


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_modules_import_no_io(name: str) -> None:
    source = Path(actors.conversation.__file__).with_name(name).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
    assert "service" not in imported
