"""protea.platform.lambda_package: same source -> same zip bytes, whatever the file times or walk order."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

from tests.helpers import REPO

spec = importlib.util.spec_from_file_location("lambda_package", REPO / "plugins/modules/lambda_package.py")
lambda_package = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lambda_package)
EXCLUDE = ["*.pyc", "__pycache__", ".*"]


def _tree(root: Path, mtime: int, order: list[str]) -> Path:
    files = {"handler.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"}
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name])
        os.utime(path, (mtime, mtime))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    (root / ".hidden").write_text("x")
    return root


def test_same_source_gives_same_bytes_whatever_mtimes_and_creation_order(tmp_path):
    a, files_a = lambda_package.build(str(_tree(tmp_path / "a", 1_000_000_000, ["handler.py", "lib/util.py"])), EXCLUDE)
    b, files_b = lambda_package.build(str(_tree(tmp_path / "b", 1_700_000_000, ["lib/util.py", "handler.py"])), EXCLUDE)
    assert a == b
    assert files_a == files_b == ["handler.py", "lib/util.py"]
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        assert [(i.filename, i.date_time, i.external_attr >> 16) for i in zf.infolist()] == [
            ("handler.py", (1980, 1, 1, 0, 0, 0), 0o100644), ("lib/util.py", (1980, 1, 1, 0, 0, 0), 0o100644)]
        assert zf.read("lib/util.py") == b"X = 1\n"


def test_changed_source_gives_different_bytes(tmp_path):
    root = _tree(tmp_path / "a", 1_000_000_000, ["handler.py", "lib/util.py"])
    before, _ = lambda_package.build(str(root), EXCLUDE)
    (root / "lib/util.py").write_text("X = 2\n")
    assert lambda_package.build(str(root), EXCLUDE)[0] != before


def _run_module(args: dict, check: bool = False) -> dict:
    """Run the module as Ansible does (JSON args on stdin), in the repository's venv."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}
    proc = subprocess.run([str(REPO / ".venv/bin/python"), str(REPO / "plugins/modules/lambda_package.py")],
                          input=json.dumps(payload), capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)


def test_module_writes_only_when_content_changes_and_not_in_check_mode(tmp_path):
    src = _tree(tmp_path / "src", 1_000_000_000, ["handler.py", "lib/util.py"])
    dest = tmp_path / "out" / "fn.zip"
    checked = _run_module({"src": str(src), "dest": str(dest)}, check=True)
    assert checked["changed"] is True and not dest.exists()
    first = _run_module({"src": str(src), "dest": str(dest)})
    assert first["changed"] is True and dest.exists()
    os.utime(src / "handler.py", (1_800_000_000, 1_800_000_000))  # a fresh checkout: new mtimes
    second = _run_module({"src": str(src), "dest": str(dest)})
    assert second["changed"] is False and second["code_sha256"] == first["code_sha256"]
