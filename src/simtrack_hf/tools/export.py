"""ONNX export of the per-frame step (`SimTrackStep`) and its parity check against PyTorch.

`export_onnx` writes `model.onnx` (+ `model.onnx.data`), `config.json` and `preprocessor_config.json`; the folder
runs with `SimTrackTracker.from_pretrained(folder, backend="onnxruntime")`. Needs the `[onnx]` extra
(onnx, onnxscript, onnxruntime).

`quantize="int8"` writes an ONNX Runtime dynamic-int8 `model.onnx` instead: the weights of every MatMul with a
constant weight (the ViT's projections and MLPs, the bottleneck) become int8 per output channel and activations
are quantized per call; attention products, convolutions (patch embedding, corner head), norms and the soft-argmax
stay float32. AVX512-VNNI / AMX CPUs run those MatMuls in int8.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from ..configuration_simtrack import SimTrackConfig
from ..image_processing_simtrack import SimTrackImageProcessor
from ..inference.onnx_runtime import INPUT_NAMES, ONNX_FILE, OUTPUT_NAMES, OnnxSimTrackRunner, SimTrackStep
from ..modeling_simtrack import SimTrackModel

__all__ = ["QUANTIZATION_METHODS", "example_inputs", "export_onnx", "onnx_parity", "quantize_onnx"]

QUANTIZATION_METHODS = ("int8",)
"""What `export_onnx(quantize=...)` / `simtrack export-onnx --quantize` accept."""


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
    quantize: str | None = None,
) -> Path:
    """Write `model.onnx` (+ `.onnx.data`), `config.json` and `preprocessor_config.json` to `output_dir`;
    with `quantize="int8"` a dynamic-int8 `model.onnx` (weights inside, no `.onnx.data`).

    The model is exported on CPU in float32 (a copy is not made: it is moved there and set to eval mode).
    `opset_version` runs from 1 to the installed onnx's newest opset; ValueError when it is outside, or when the
    exporter cannot write it (nothing below 18 is native). Returns the path of `model.onnx`.
    """
    import onnx

    if quantize is not None and quantize not in QUANTIZATION_METHODS:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZATION_METHODS)} (ONNX Runtime dynamic "
                         f"quantization), got {quantize!r}")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or not 1 <= opset_version <= newest:
        raise ValueError(f"opset_version must be an integer from 1 to {newest} (the installed onnx's newest), "
                         f"got {opset_version!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for stale in output_dir.glob(f"{ONNX_FILE}*"):  # a float32 export's .onnx.data must not outlive it
        stale.unlink()
    if quantize:
        with tempfile.TemporaryDirectory(dir=output_dir) as workdir:
            export_onnx(model, workdir, processor=processor, opset_version=opset_version)
            return quantize_onnx(Path(workdir) / ONNX_FILE, output_dir / ONNX_FILE)
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
    written = {o.domain: o.version for o in onnx.load(str(path), load_external_data=False).opset_import}.get("")
    if written != opset_version:
        for wrong in output_dir.glob(f"{ONNX_FILE}*"):
            wrong.unlink()
        raise ValueError(f"the exporter could not convert the model to opset {opset_version} (it wrote opset "
                         f"{written}); choose another opset, e.g. 18")
    model.config.save_pretrained(output_dir)
    (processor or SimTrackImageProcessor.from_model_config(model.config)).save_pretrained(output_dir)
    return path


def quantize_onnx(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Dynamic int8 quantization of a float32 export `source` into `target` (see the module docstring); the
    configs beside `source` are copied beside `target`, so its folder loads like an export folder."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "preprocessor_config.json"):
        if (source.parent / name).is_file():
            shutil.copyfile(source.parent / name, target.parent / name)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" advice (shape inference adds nothing here)
    try:
        quantize_dynamic(
            str(source), str(target), op_types_to_quantize=["MatMul"], per_channel=True,
            weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True},
        )
    finally:
        root.setLevel(level)
    return target


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
