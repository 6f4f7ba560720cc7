"""`simtrack export-onnx`: export the per-frame step to ONNX and check ONNX Runtime against PyTorch."""

from __future__ import annotations

import argparse

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..loading import DEFAULT_MODEL
from ..tools.export import QUANTIZATION_METHODS
from .common import finite_float


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default=DEFAULT_MODEL,
                        help="save_pretrained folder or Hub repo to export (default: the shipped default model)")
    source.add_argument("--variant", choices=sorted(SIMTRACK_VARIANTS),
                        help="export a randomly initialised variant instead (for speed tests)")
    parser.add_argument("--output", required=True, help="folder for model.onnx, model.onnx.data and the configs")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--quantize", choices=QUANTIZATION_METHODS, default=None,
                        help="write a quantized model: int8 = ONNX Runtime dynamic quantization (int8 MatMul "
                             "weights); the check then accepts --int8-tolerance")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime vs PyTorch check")
    parser.add_argument("--tolerance", type=finite_float, default=1e-4, help="max abs box difference the check accepts")
    parser.add_argument("--int8-tolerance", type=finite_float, default=0.05,
                        help="with --quantize: max abs box difference (normalised crop units) the check accepts")
    return parser


def run(args: argparse.Namespace) -> None:
    """Export (or export and quantize), then check ONNX Runtime against PyTorch at batch 1 and 3 (fails above
    `--tolerance`, or `--int8-tolerance` for a quantized model)."""
    import torch

    from ..image_processing_simtrack import SimTrackImageProcessor
    from ..inference.onnx_runtime import ONNX_FILE, OnnxSimTrackRunner
    from ..io.paths import check_outputs
    from ..loading import load_pretrained
    from ..modeling_simtrack import SimTrackModel
    from ..tools.export import export_onnx, onnx_parity

    check_outputs({"--model": args.model}, {"--output": args.output})
    processor = None
    if args.variant is None:
        model = load_pretrained(args.model)
        try:
            processor = SimTrackImageProcessor.from_pretrained(args.model)
        except OSError:
            processor = None
    else:
        torch.manual_seed(0)
        model = SimTrackModel(SimTrackConfig.from_variant(args.variant))
    path = export_onnx(model, args.output, processor=processor, opset_version=args.opset, quantize=args.quantize)
    files = sorted(f.name for f in path.parent.glob(f"{ONNX_FILE}*"))
    size = sum(f.stat().st_size for f in path.parent.glob(f"{ONNX_FILE}*")) / 2**20
    print(f"wrote {path.parent}: {', '.join(files)} ({args.quantize or 'float32'}, {size:.0f} MiB), config.json, "
          "preprocessor_config.json")
    if not args.no_check:
        parity = onnx_parity(OnnxSimTrackRunner(path), model)
        for batch, diff in parity.items():
            print(f"batch {batch}: max |boxes diff| {diff['pred_boxes']:.1e}, max |scores diff| {diff['scores']:.1e}")
        worst = max(diff["pred_boxes"] for diff in parity.values())
        tolerance = args.int8_tolerance if args.quantize else args.tolerance
        if worst > tolerance:
            raise ValueError(f"ONNX Runtime boxes differ from PyTorch by {worst:.2e} > {tolerance:.0e}")
