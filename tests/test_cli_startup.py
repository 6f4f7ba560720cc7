"""`simtrack --help` imports neither torch nor transformers nor simtrack_hf (the tree is built from declarations;
a subcommand's module is imported only when that subcommand runs)."""

from __future__ import annotations

import json
import subprocess
import sys

from simtrack_cli import COMMANDS

CHILD = """
import contextlib, io, json, sys
from simtrack_cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exit:
        code = exit.code
heavy = sorted(m for m in ("torch", "transformers", "simtrack_hf", "cv2", "numpy") if m in sys.modules)
print(json.dumps({"code": code, "help": out.getvalue(), "heavy": heavy}))
"""


def run_child(*argv: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_top_level_help_imports_nothing_heavy():
    child = run_child("--help")
    assert child["code"] == 0 and child["heavy"] == []
    for command in COMMANDS:
        assert command.name in child["help"] and command.help[:30] in " ".join(child["help"].split())


def test_subcommand_help_builds_that_subcommand():
    child = run_child("track", "--help")
    assert child["code"] == 0 and "--box" in child["help"] and "--threads" in child["help"]
    assert "simtrack_hf" in child["heavy"]
