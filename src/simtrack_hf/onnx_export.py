"""ONNX export of SimTrack's per-frame step and an ONNX Runtime runner the tracker can use instead of the model.

The exported graph is `(template_pixel_values (N,3,T,T), search_pixel_values (N,3,S,S), template_boxes (N,4))
-> (pred_boxes (N,4), scores (N,))` with a dynamic batch dimension N (targets). It recomputes the template
tokens on every call (~0.2 % of the FLOPs of a frame), so one graph serves every frame.

An export folder holds `model.onnx`, its weights `model.onnx.data` (must stay beside it), `config.json` and
`preprocessor_config.json`. Needs the `[onnx]` extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from .image_processing_simtrack import SimTrackImageProcessor
from .modeling_simtrack import SimTrackModel, SimTrackOutput

ONNX_FILE = "model.onnx"
INPUT_NAMES = ("template_pixel_values", "search_pixel_values", "template_boxes")
OUTPUT_NAMES = ("pred_boxes", "scores")

__all__ = [
    "OnnxSimTrackRunner", "SimTrackStep", "add_export_arguments", "example_inputs", "export_onnx", "onnx_parity",
    "run_export_command",
]


class SimTrackStep(nn.Module):
    """The per-frame step as one traceable module: template + search crops and template boxes -> boxes, scores.

    Skips the model's data-dependent input checks (finite / positive boxes), which `torch.export` cannot trace.
    """

    def __init__(self, model: SimTrackModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, template_pixel_values: torch.Tensor, search_pixel_values: torch.Tensor, template_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        template = self.model.embeddings.embed_template(template_pixel_values, template_boxes)
        outputs = self.model(search_pixel_values=search_pixel_values, template_embeddings=template)
        return outputs.pred_boxes, outputs.scores


def example_inputs(config: SimTrackConfig, batch_size: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random normalised crops and valid template boxes (normalised xywh) for `batch_size` targets."""
    generator = torch.Generator().manual_seed(seed)
    t, s = config.template_size, config.search_size
    xy = 0.2 + 0.2 * torch.rand(batch_size, 2, generator=generator)
    wh = 0.2 + 0.3 * torch.rand(batch_size, 2, generator=generator)
    return {
        "template_pixel_values": torch.randn(batch_size, 3, t, t, generator=generator),
        "search_pixel_values": torch.randn(batch_size, 3, s, s, generator=generator),
        "template_boxes": torch.cat((xy, wh), dim=1),
    }


def export_onnx(
    model: SimTrackModel,
    output_dir: str | os.PathLike,
    processor: SimTrackImageProcessor | None = None,
    opset_version: int = 18,
) -> Path:
    """Write `model.onnx` (+ `.onnx.data`), `config.json` and `preprocessor_config.json` to `output_dir`.

    The model is exported on CPU in float32 (a copy is not made: it is moved there and set to eval mode).
    Returns the path of `model.onnx`.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu", torch.float32).eval()
    inputs = example_inputs(model.config, batch_size=2)  # 2, not 1: batch 1 would be specialised away
    batch = torch.export.Dim("batch", min=1, max=4096)
    path = output_dir / ONNX_FILE
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed" notices
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # export chatter (deprecations, axis renaming)
            program = torch.onnx.export(
                SimTrackStep(model).eval(), (), kwargs=inputs, dynamo=True, opset_version=opset_version,
                input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                dynamic_shapes={name: {0: batch} for name in INPUT_NAMES}, verbose=False,
            )
    finally:
        logger.setLevel(level)
    program.save(str(path), external_data=True)
    model.config.save_pretrained(output_dir)
    (processor or SimTrackImageProcessor.from_model_config(model.config)).save_pretrained(output_dir)
    return path


def _onnx_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / ONNX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX model at {path} (export one with `simtrack export-onnx`)")
    return path


class OnnxSimTrackRunner:
    """ONNX Runtime session of an exported per-frame step, called like the model.

    Args:
        path: export folder (with `model.onnx`) or the `.onnx` file itself.
        providers: ONNX Runtime execution providers (default: CUDA when available, then CPU).
        num_threads: intra-op threads (default: `torch.get_num_threads()`, so `torch.set_num_threads` applies).

    `config` is the folder's `SimTrackConfig` (None when there is no config.json beside the file).
    """

    def __init__(
        self, path: str | os.PathLike, providers: list[str] | None = None, num_threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        self.path = _onnx_path(path)
        config_file = self.path.parent / "config.json"
        self.config = SimTrackConfig.from_json_file(str(config_file)) if config_file.is_file() else None
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or torch.get_num_threads()
        options.log_severity_level = 3
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(str(self.path), options, providers=providers)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> "OnnxSimTrackRunner":
        """Same as the constructor (mirrors the model API)."""
        return cls(path, **kwargs)

    def embed_template(
        self, template_pixel_values: torch.Tensor, template_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What a tracker stores per target: the graph takes the template inputs themselves."""
        return template_pixel_values, template_boxes

    def __call__(
        self,
        template_pixel_values: torch.Tensor | None = None,
        search_pixel_values: torch.Tensor | None = None,
        template_boxes: torch.Tensor | None = None,
        template_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> SimTrackOutput:
        """Run one step; returns a `SimTrackOutput` with CPU float32 `pred_boxes` (N,4) and `scores` (N,)."""
        if template_embeddings is not None:
            template_pixel_values, template_boxes = template_embeddings
        if template_pixel_values is None or search_pixel_values is None or template_boxes is None:
            raise ValueError("give template_pixel_values, search_pixel_values and template_boxes")
        feed = {
            name: np.ascontiguousarray(torch.as_tensor(value).detach().cpu().float().numpy())
            for name, value in zip(INPUT_NAMES, (template_pixel_values, search_pixel_values, template_boxes))
        }
        pred_boxes, scores = self.session.run(list(OUTPUT_NAMES), feed)
        return SimTrackOutput(pred_boxes=torch.from_numpy(pred_boxes), scores=torch.from_numpy(scores))


def onnx_parity(
    runner: OnnxSimTrackRunner, model: SimTrackModel, batch_sizes: tuple[int, ...] = (1, 3)
) -> dict[int, dict[str, float]]:
    """Max abs difference of boxes and scores, ONNX Runtime vs PyTorch (float32, CPU), per batch size."""
    step = SimTrackStep(model.to("cpu", torch.float32).eval())
    result = {}
    for batch in batch_sizes:
        inputs = example_inputs(model.config, batch, seed=batch)
        with torch.inference_mode():
            boxes, scores = step(**inputs)
        outputs = runner(**inputs)
        result[batch] = {
            "pred_boxes": (outputs.pred_boxes - boxes).abs().max().item(),
            "scores": (outputs.scores - scores).abs().max().item(),
        }
    return result


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `simtrack export-onnx`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="save_pretrained folder or Hub repo to export")
    source.add_argument("--variant", choices=list(SIMTRACK_VARIANTS),
                        help="export a randomly initialised variant instead (for speed tests)")
    parser.add_argument("--output", required=True, help="folder for model.onnx, model.onnx.data and the configs")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime vs PyTorch check")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max abs box difference the check accepts")
    return parser


def run_export_command(args: argparse.Namespace) -> None:
    """Export, then check ONNX Runtime against PyTorch at batch 1 and 3 (fails above `--tolerance`)."""
    processor = None
    if args.model:
        model = SimTrackModel.from_pretrained(args.model)
        try:
            processor = SimTrackImageProcessor.from_pretrained(args.model)
        except OSError:
            processor = None
    else:
        torch.manual_seed(0)
        model = SimTrackModel(SimTrackConfig.from_variant(args.variant))
    path = export_onnx(model, args.output, processor=processor, opset_version=args.opset)
    size = sum(f.stat().st_size for f in path.parent.glob(f"{ONNX_FILE}*")) / 2**20
    print(f"wrote {path} (+ {ONNX_FILE}.data, config.json, preprocessor_config.json; {size:.0f} MiB)")
    if not args.no_check:
        parity = onnx_parity(OnnxSimTrackRunner(path), model)
        for batch, diff in parity.items():
            print(f"batch {batch}: max |boxes diff| {diff['pred_boxes']:.1e}, max |scores diff| {diff['scores']:.1e}")
        worst = max(diff["pred_boxes"] for diff in parity.values())
        if worst > args.tolerance:
            raise ValueError(f"ONNX Runtime boxes differ from PyTorch by {worst:.2e} > {args.tolerance:.0e}")
