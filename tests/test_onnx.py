"""ONNX export of the per-frame step: files, dynamic batch, parity with PyTorch, runner as a model stand-in."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_config

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

from simtrack_hf import SimTrackConfig, SimTrackImageProcessor, SimTrackModel, SimTrackTracker  # noqa: E402
from simtrack_hf.commands.export import add_arguments as add_export_arguments  # noqa: E402
from simtrack_hf.commands.export import run as run_export_command  # noqa: E402
from simtrack_hf.inference.attention import attention_maps  # noqa: E402
from simtrack_hf.inference.onnx_runtime import OnnxSimTrackRunner  # noqa: E402
from simtrack_hf.tools.export import example_inputs, onnx_parity  # noqa: E402
from simtrack_hf.tools.speed import synthetic_frame, target_boxes  # noqa: E402


def informative_model(seed: int = 0, config: SimTrackConfig | None = None) -> SimTrackModel:
    """Tiny model with He-scaled random weights: its boxes and scores vary with the input (the default
    initialisation gives near-uniform heatmaps, which would make a parity test vacuous)."""
    torch.manual_seed(seed)
    model = SimTrackModel(config or tiny_config()).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim >= 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (2 / parameter[0].numel()) ** 0.5)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, export folder, printed report), exported through the `simtrack export-onnx` functions."""
    root = tmp_path_factory.mktemp("onnx")
    model = informative_model()
    model.save_pretrained(root / "model")
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(root / "model")
    args = add_export_arguments(argparse.ArgumentParser()).parse_args(
        ["--model", str(root / "model"), "--output", str(root / "export")]
    )
    run_export_command(args)
    return model, root / "export"


def test_export_folder_and_dynamic_batch(exported):
    model, folder = exported
    assert {p.name for p in folder.iterdir()} >= {
        "model.onnx", "model.onnx.data", "config.json", "preprocessor_config.json"
    }
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == model.config.hidden_size
    runner = OnnxSimTrackRunner(folder)
    assert runner.config.search_size == model.config.search_size
    inputs = {i.name: i.shape for i in runner.session.get_inputs()}
    assert list(inputs) == ["template_pixel_values", "search_pixel_values", "template_boxes"]
    assert all(isinstance(shape[0], str) for shape in inputs.values())  # symbolic batch
    assert [o.name for o in runner.session.get_outputs()] == ["pred_boxes", "scores"]


def test_parity_batch_1_and_3(exported):
    model, folder = exported
    parity = onnx_parity(OnnxSimTrackRunner(folder), model, batch_sizes=(1, 3, 5))
    for diffs in parity.values():
        assert diffs["pred_boxes"] < 1e-4 and diffs["scores"] < 1e-4


def test_runner_matches_model(exported):
    model, folder = exported
    runner = OnnxSimTrackRunner(folder, num_threads=1)
    inputs = example_inputs(model.config, 3, seed=7)
    with torch.inference_mode():
        expected = model(**inputs)
    assert expected.pred_boxes.std(0).max() > 1e-3  # rows differ: the comparison is not vacuous
    for outputs in (runner(**inputs), runner(search_pixel_values=inputs["search_pixel_values"],
                                             template_embeddings=runner.embed_template(
                                                 inputs["template_pixel_values"], inputs["template_boxes"]))):
        assert isinstance(outputs.pred_boxes, torch.Tensor) and outputs.pred_boxes.shape == (3, 4)
        assert outputs.scores.shape == (3,)
        torch.testing.assert_close(outputs.pred_boxes, expected.pred_boxes, atol=1e-4, rtol=0)
        torch.testing.assert_close(outputs.scores, expected.scores, atol=1e-4, rtol=0)


def test_onnxruntime_tracker_backend_matches_torch_tracker(exported):
    model, folder = exported
    processor = SimTrackImageProcessor.from_model_config(model.config)
    onnx_tracker = SimTrackTracker.from_pretrained(folder, backend="onnxruntime")
    torch_tracker = SimTrackTracker(model, processor)
    assert isinstance(onnx_tracker.model, OnnxSimTrackRunner)
    first, boxes = synthetic_frame(240, 320), target_boxes(2, 240, 320)
    onnx_tracker.init(first, boxes)
    torch_tracker.init(first, boxes)
    for shift in (3, 6, 9):
        frame = np.roll(first, shift, axis=1)
        expected = torch_tracker.track(frame)
        result = onnx_tracker.track(frame)
        np.testing.assert_allclose(result.boxes, expected.boxes, atol=1e-2)
        np.testing.assert_allclose(result.scores, expected.scores, atol=1e-4)
    with pytest.raises(NotImplementedError, match="backend='torch'"):
        attention_maps(onnx_tracker, first)
    with pytest.raises(ValueError, match="backend must be"):
        SimTrackTracker.from_pretrained(folder, backend="tensorrt")


def test_missing_model_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="export-onnx"):
        OnnxSimTrackRunner(tmp_path)


def test_cli_track_runs_an_export_folder_with_onnxruntime(exported, tmp_path, capsys):
    from simtrack_hf.commands import main
    from simtrack_hf.io.boxes import read_results

    _, folder = exported
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:04d}.png"), np.roll(base, 3 * i, axis=1))
    main(["track", str(frames), "--box", "30,20,40,32", "--model", str(folder), "--results", str(tmp_path / "b.txt")])
    assert "tracked 4 frames" in capsys.readouterr().out
    tracker = SimTrackTracker.from_pretrained(folder, backend="onnxruntime")
    expected = np.stack([r.boxes[0] for r in tracker.track_video(str(frames), [30, 20, 40, 32])])
    np.testing.assert_allclose(read_results(tmp_path / "b.txt"), expected, atol=1e-3)


@pytest.fixture(scope="module")
def quantized(exported, tmp_path_factory):
    """(model, dynamic-int8 export folder) through `simtrack export-onnx --quantize int8` (checks parity itself)."""
    model, folder = exported
    out = tmp_path_factory.mktemp("onnx_int8") / "export"
    args = add_export_arguments(argparse.ArgumentParser()).parse_args(
        ["--model", str(folder.parent / "model"), "--output", str(out), "--quantize", "int8"]
    )
    run_export_command(args)
    return model, out


def test_int8_export_is_quantized_and_close_to_float32(quantized):
    import onnx

    model, folder = quantized
    assert {p.name for p in folder.iterdir()} == {"model.onnx", "config.json", "preprocessor_config.json"}
    ops = {node.op_type for node in onnx.load(str(folder / "model.onnx")).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger"}, ops  # the weights' MatMuls run in int8
    assert "ConvInteger" not in ops  # convolutions (patch embedding, corner head) stay float32
    parity = onnx_parity(OnnxSimTrackRunner(folder), model, batch_sizes=(1, 3))
    worst = max(d["pred_boxes"] for d in parity.values())
    assert 1e-6 < worst < 0.05  # quantized (not bit-equal to float32), yet within 5 % of the crop


def test_int8_export_tracks_like_float32(quantized):
    model, folder = quantized
    int8_tracker = SimTrackTracker.from_pretrained(folder, backend="onnxruntime")
    torch_tracker = SimTrackTracker(model, SimTrackImageProcessor.from_model_config(model.config))
    first, boxes = synthetic_frame(240, 320), target_boxes(2, 240, 320)
    int8_tracker.init(first, boxes)
    torch_tracker.init(first, boxes)
    for shift in (3, 6):
        frame = np.roll(first, shift, axis=1)
        np.testing.assert_allclose(int8_tracker.track(frame).boxes, torch_tracker.track(frame).boxes, atol=2.0)


def test_unsupported_quantization_is_refused(exported, tmp_path, capsys):
    from simtrack_hf.commands import main
    from simtrack_hf.tools.export import export_onnx

    model, folder = exported
    with pytest.raises(ValueError, match="quantize must be one of int8"):
        export_onnx(model, tmp_path / "x", quantize="int4")
    with pytest.raises(SystemExit) as exit_info:
        main(["export-onnx", "--model", str(folder.parent / "model"), "--output", str(tmp_path / "y"),
              "--quantize", "int4"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'int4'" in capsys.readouterr().err


def test_export_defaults_to_the_default_model_like_track(tmp_path, capsys):
    from simtrack_hf import DEFAULT_MODEL
    from simtrack_hf.commands import main

    main(["export-onnx", "--output", str(tmp_path / "default")])
    assert "batch 1: max |boxes diff|" in capsys.readouterr().out
    exported = json.loads((tmp_path / "default" / "config.json").read_text())
    shipped = json.loads(open(f"{DEFAULT_MODEL}/config.json").read())
    assert exported["hidden_size"] == shipped["hidden_size"]


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_hybrid_embedding_exports_and_tracks_like_pytorch(tmp_path, quantize):
    """The CNN stem (fixed BatchNorm, ReLU6, depthwise convs) goes through the same export, fp32 and int8."""
    model = informative_model(config=SimTrackConfig.from_variant("tiny-hybrid"))
    model.save_pretrained(tmp_path / "model")
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(tmp_path / "model")
    argv = ["--model", str(tmp_path / "model"), "--output", str(tmp_path / "export")]
    run_export_command(add_export_arguments(argparse.ArgumentParser()).parse_args(
        argv + (["--quantize", quantize] if quantize else [])))
    parity = onnx_parity(OnnxSimTrackRunner(tmp_path / "export"), model, batch_sizes=(1, 2))
    worst = max(d["pred_boxes"] for d in parity.values())
    assert worst < (0.05 if quantize else 1e-4)
    onnx_tracker = SimTrackTracker.from_pretrained(tmp_path / "export", backend="onnxruntime")
    torch_tracker = SimTrackTracker(model, SimTrackImageProcessor.from_model_config(model.config))
    first, boxes = synthetic_frame(240, 320), target_boxes(2, 240, 320)
    onnx_tracker.init(first, boxes)
    torch_tracker.init(first, boxes)
    frame = np.roll(first, 4, axis=1)
    np.testing.assert_allclose(onnx_tracker.track(frame).boxes, torch_tracker.track(frame).boxes,
                               atol=2.0 if quantize else 1e-2)
