"""ONNX Runtime backend: the per-frame step as one traceable module, and a runner the tracker calls like the model.

The step is `(template_pixel_values (N,3,T,T), search_pixel_values (N,3,S,S), template_boxes (N,4))
-> (pred_boxes (N,4), scores (N,))` with a dynamic batch dimension N (targets). It recomputes the template
tokens on every call (~0.2 % of the FLOPs of a frame), so one graph serves every frame.

An export folder (written by `simtrack_hf.tools.export.export_onnx`) holds `model.onnx`, its weights
`model.onnx.data` (must stay beside it), `config.json` and `preprocessor_config.json`. Needs the `[onnx]` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..configuration_simtrack import SimTrackConfig
from ..modeling_simtrack import SimTrackModel, SimTrackOutput

ONNX_FILE = "model.onnx"
INPUT_NAMES = ("template_pixel_values", "search_pixel_values", "template_boxes")
OUTPUT_NAMES = ("pred_boxes", "scores")

__all__ = ["INPUT_NAMES", "ONNX_FILE", "OUTPUT_NAMES", "OnnxSimTrackRunner", "SimTrackStep"]


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
        num_threads: intra-op threads (default: `torch.get_num_threads()`, so `torch.set_num_threads` applies);
            they do not spin-wait between ops (see `simtrack_hf.inference.runtime.ort_session_options`).

    `config` is the folder's `SimTrackConfig` (None when there is no config.json beside the file).
    """

    def __init__(
        self, path: str | os.PathLike, providers: list[str] | None = None, num_threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        from .runtime import ort_session_options

        self.path = _onnx_path(path)
        config_file = self.path.parent / "config.json"
        self.config = SimTrackConfig.from_json_file(str(config_file)) if config_file.is_file() else None
        options = ort_session_options(num_threads)
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            # Read into memory, not memory-mapped: a file changed or truncated on disk later cannot change the
            # weights of this session or kill the process (SIGBUS).
            data = self.path.with_name(self.path.name + ".data")
            if data.is_file():
                contents = data.read_bytes()
                options.add_external_initializers_from_files_in_memory([data.name], [contents], [len(contents)])
            self.session = ort.InferenceSession(self.path.read_bytes(), options, providers=providers)
        except Exception as error:  # ORT's own classes (Fail, InvalidProtobuf, ...), messages without the path
            reason = str(error).rsplit(" : ", 1)[-1].strip()
            raise ValueError(f"ONNX Runtime cannot load {self.path} (truncated or missing {self.path.name}.data? "
                             f"export again with `simtrack export-onnx`): {reason}") from error

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
