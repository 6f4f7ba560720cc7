"""Speed benchmark harness: FLOP counting, table and JSON on a tiny config (timings are not asserted)."""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SIMTRACK_VARIANTS, SimTrackConfig, SimTrackModel
from simtrack_hf.commands.speed import run as run_benchmark_command
from simtrack_hf.tools.speed import (
    ACCURACY_COLUMNS,
    COLUMNS,
    card_flops,
    count_flops,
    matmul_gflops,
    measure_speed,
    scale_heads,
)

HAS_ORT = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))


def analytic_flops(config: SimTrackConfig, batch: int = 1) -> int:
    """FLOPs (2 per multiply-add) of the per-frame step from the architecture, counting matmuls and convolutions
    only (no bias, norms, softmax or activations: the convention of `FlopCounterMode`)."""
    c, p, i = config.hidden_size, config.patch_size, config.intermediate_size
    h, d, ch = config.pos_embed_hidden_size, config.head_hidden_size, config.head_channels
    tz2, sz2, fz2 = config.template_grid**2, config.search_grid**2, config.foveal_grid**2
    n = config.num_tokens
    patch_embedding = 2 * (tz2 + fz2 + sz2) * 3 * p * p * c
    pos_fc = 2 * tz2 * (3 * h + h * c)
    layer = 2 * n * (4 * c * c + 2 * c * i) + 4 * n * n * c  # q/k/v/out + MLP, then QK^T and AV
    bottleneck = 2 * sz2 * c * d
    widths = [d, ch, ch // 2, ch // 4, ch // 8]
    tower = sum(2 * sz2 * 9 * a * b for a, b in zip(widths, widths[1:])) + 2 * sz2 * widths[-1]
    return batch * (patch_embedding + pos_fc + config.num_hidden_layers * layer + bottleneck + 2 * tower)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("batch", [1, 3])
def test_flop_counter_matches_analytic_count(batch, attention):
    config = tiny_config()
    model = SimTrackModel(config).eval()
    model.set_attn_implementation(attention)
    expected = analytic_flops(config, batch)
    assert abs(count_flops(config, batch, model=model) - expected) <= 0.02 * expected  # real forward
    assert abs(count_flops(config, batch) - expected) <= 0.02 * expected  # meta-device forward


@pytest.mark.parametrize("variant", list(SIMTRACK_VARIANTS))
def test_full_size_flops_on_meta(variant):
    config = SimTrackConfig.from_variant(variant)
    counted = count_flops(config)
    assert abs(counted - analytic_flops(config)) <= 0.02 * counted
    assert 10e9 < counted < 300e9


def benchmark_args(*argv: str) -> argparse.Namespace:
    from simtrack_hf.commands import build_parser

    return build_parser().parse_args(["benchmark", *argv])


def test_harness_table_and_json(tmp_path, capsys, restore_threads):
    config_file = tmp_path / "tiny.json"
    tiny_config().to_json_file(str(config_file))
    backends = ["sdpa", "eager"] + (["onnxruntime", "onnxruntime-int8"] if HAS_ORT else [])
    args = benchmark_args(
        "--variants", str(config_file), "--backends", ",".join(backends), "--frames", "2", "--warmup", "1",
        "--batch", "1,2", "--threads", "1", "--json", str(tmp_path / "out.json"),
    )
    run_benchmark_command(args)
    lines = capsys.readouterr().out.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| variant"))
    assert [c.strip() for c in lines[header].strip("|").split("|")] == list(COLUMNS)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[header + 2:] if line.startswith("|")]
    expected = ["eager"] + [b for b in backends if b != "eager"]  # the fp32 baseline first
    assert [(row[1], row[3]) for row in rows] == [(b, n) for b in expected for n in ("1", "2")]
    assert all(len(row) == len(COLUMNS) for row in rows)
    assert lines[0].startswith("Machine:") and "targets per frame 1, 2" in lines[0]

    result = json.loads((tmp_path / "out.json").read_text())
    assert result["machine"]["threads"] == 1 and result["machine"]["torch"] == torch.__version__
    assert result["auto_dtype"]["tiny"] in ("float32", "bfloat16")
    for row in result["rows"]:
        assert row["variant"] == "tiny" and row["frames"] == 2
        assert row["flops_per_frame"] == analytic_flops(tiny_config(), row["batch"])
        for key in ("model_ms_p50", "model_ms_p90", "tracker_ms_p50", "achieved_gflops", "matmul_gflops",
                    "peak_mib", "speedup"):
            assert row[key] > 0
        assert row["model_ms_p90"] >= row["model_ms_p50"]
        assert 0 <= row["box_dev_px_p50"] <= row["box_dev_px_max"]
    by_backend = {(r["backend"], r["batch"]): r for r in result["rows"]}
    for batch in (1, 2):
        baseline = by_backend["eager", batch]
        assert baseline["speedup"] == 1.0 and baseline["box_dev_px_max"] == 0.0
        assert by_backend["sdpa", batch]["box_dev_px_max"] < 0.01  # same arithmetic up to rounding
        if HAS_ORT:
            assert by_backend["onnxruntime-int8", batch]["dtype"] == "int8"
            assert 0 < by_backend["onnxruntime-int8", batch]["box_dev_px_max"] < 20  # quantized, not broken
            assert by_backend["onnxruntime", batch]["speedup"] == pytest.approx(
                baseline["tracker_ms_p50"] / by_backend["onnxruntime", batch]["tracker_ms_p50"])


def test_json_to_stdout_and_unavailable_backend(tmp_path, capsys, restore_threads):
    config_file = tmp_path / "tiny.json"
    tiny_config().to_json_file(str(config_file))
    args = benchmark_args("--variants", str(config_file), "--backends", "sdpa,cuda-fp16", "--frames", "1",
                          "--warmup", "0", "--threads", "1", "--json")
    run_benchmark_command(args)
    result = json.loads(capsys.readouterr().out)  # only JSON on stdout
    gpu = torch.cuda.is_available()
    assert [r["backend"] for r in result["rows"]] == ["eager", "sdpa"] + (["cuda-fp16"] if gpu else [])
    assert gpu or result["skipped"] == [{"variant": "tiny", "backend": "cuda-fp16", "reason": "not available here"}]
    with pytest.raises(ValueError, match="unknown backend"):
        measure_speed([tiny_config()], ["tensorrt"])


def test_accuracy_table_on_a_small_benchmark(tmp_path, capsys, restore_threads):
    from simtrack_hf.data.synthetic import write_got10k_dataset

    model_dir = tmp_path / "model"
    torch.manual_seed(0)
    scale_heads(SimTrackModel(tiny_config())).save_pretrained(model_dir)
    write_got10k_dataset(tmp_path, 2, 6, seed=1000, split="heldout")
    config_file = tmp_path / "tiny.json"
    tiny_config().to_json_file(str(config_file))
    backends = ["eager", "sdpa"] + (["onnxruntime-int8"] if HAS_ORT else [])
    run_benchmark_command(benchmark_args(
        "--variants", str(config_file), "--backends", ",".join(backends), "--frames", "1", "--warmup", "0",
        "--threads", "1", "--accuracy-root", str(tmp_path / "heldout"), "--accuracy-model", str(model_dir),
        "--json", str(tmp_path / "out.json")))
    out = capsys.readouterr().out
    assert "| " + " | ".join(ACCURACY_COLUMNS) + " |" in out
    accuracy = json.loads((tmp_path / "out.json").read_text())["accuracy"]
    assert accuracy["sequences"] == 2 and [r["backend"] for r in accuracy["rows"]] == backends
    eager, sdpa = accuracy["rows"][:2]
    assert eager["delta_auc"] == 0.0 and 0 <= eager["auc"] <= 100
    assert abs(sdpa["delta_auc"]) < 1e-6 and sdpa["box_dev_px_p50"] < 0.01
    if HAS_ORT:
        assert accuracy["rows"][2]["device"] == "cpu int8"


def test_bad_benchmark_options_are_one_line_errors(capsys):
    from simtrack_hf.commands import main

    for argv, message in ((["--threads", "0"], "expected a positive integer"),
                          (["--batch", "1,0"], "comma-separated positive integers")):
        with pytest.raises(SystemExit) as exit_info:
            main(["benchmark", *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_matmul_reference_is_positive():
    assert matmul_gflops(64, 32, 64, torch.device("cpu"), torch.float32, repeats=2) > 0
