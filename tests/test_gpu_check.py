"""scripts/gpu_check.py without a GPU: the same code on the CPU with the tiny preset gives the one table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU fallback; on a GPU run the script itself")
def test_cpu_fallback_prints_one_table(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    output = tmp_path / "gpu.md"
    table = script.main(["--no-compile", "--steps", "2", "--warmup", "1", "--frames", "3", "--output", str(output)])
    assert output.read_text() == table and table in capsys.readouterr().out
    assert "NO GPU" in table.splitlines()[0] and table.splitlines()[0].startswith("tiny on ")
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    checks = [(row[0].removeprefix("| "), row[2]) for row in rows]
    assert checks == [("tracker (eager)", "fp32"), ("tracker (sdpa)", "fp32"), ("training", "fp32"),
                      ("boxes: cpu fp32 vs cpu", "fp32")]
    for row in rows[:3]:
        assert float(row[4].split()[0]) > 0  # frames/s, steps/s
    assert rows[2][3] == "4" and float(rows[2][5]) > 0  # batch, peak MiB
    assert float(rows[3][6].removesuffix(" |")) == 0.0  # the same device: identical boxes
