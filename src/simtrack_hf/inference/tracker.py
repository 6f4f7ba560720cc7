"""SimTrackTracker: the tracking session (`simtrack_hf.tracking_simtrack.SimTrackSession`) plus what needs the
package: loading a model folder, Hub repo or ONNX export (`from_pretrained`), and reading video files and image
folders (`track_video`, through `simtrack_hf.io.frames`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch

from ..image_processing_simtrack import SimTrackImageProcessor
from ..io.frames import open_frames
from ..loading import load_pretrained
from .runtime import resolve_dtype
from ..tracking_simtrack import SimTrackSession, TrackingResult, track_many

__all__ = ["SimTrackTracker", "TrackingResult", "track_many"]


class SimTrackTracker(SimTrackSession):
    """Track N targets through a video with a [`SimTrackModel`] (the session API of `SimTrackSession`).

    Example:
        tracker = SimTrackTracker.from_pretrained("org/sim-b16")
        tracker.init(first_frame, [x, y, w, h])        # or an (N, 4) list of boxes, or {id: box}
        result = tracker.track(next_frame)             # result.object_ids, .boxes (N, 4) xywh, .scores, .lost
    """

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo: str | os.PathLike,
        device: str | torch.device | None = None,
        torch_dtype: torch.dtype | str | None = None,
        backend: str = "torch",
        tracking_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> "SimTrackTracker":
        """Model and processor from a `save_pretrained` folder or Hub repo (kwargs go to both loaders).

        `backend="onnxruntime"` runs a folder written by `simtrack export-onnx` (`model.onnx` + configs).
        `torch_dtype` (PyTorch backend): a dtype, or "auto" / "float32" / "bfloat16" / "float16" resolved by
        `simtrack_hf.inference.runtime.resolve_dtype` (bf16 only on CPUs with native bf16; "auto" measures it).
        `tracking_options` override the model config's `TrackingOptions`.
        """
        tracking_options = tracking_options or {}
        if backend == "onnxruntime":
            from .onnx_runtime import OnnxSimTrackRunner

            folder = path_or_repo
            if not os.path.isdir(folder):
                from huggingface_hub import snapshot_download

                folder = snapshot_download(str(path_or_repo), allow_patterns=["model.onnx*", "*.json"], **kwargs)
            return cls(OnnxSimTrackRunner(folder), SimTrackImageProcessor.from_pretrained(folder), **tracking_options)
        if backend != "torch":
            raise ValueError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
        model = load_pretrained(path_or_repo, **kwargs)
        torch_dtype = resolve_dtype(torch_dtype, device or model.device, model.config)
        try:
            processor = SimTrackImageProcessor.from_pretrained(path_or_repo, **kwargs)
        except OSError:  # folder without preprocessor_config.json: derive it from the model config
            processor = SimTrackImageProcessor.from_model_config(model.config)
        return cls(model, processor, device=device, torch_dtype=torch_dtype, **tracking_options)

    def track_video(self, source: Any, boxes: Any) -> Iterator[TrackingResult]:
        """Stream results over a video file, image folder, list of frames or any frame iterator.

        The first result is the initialisation frame with `boxes` and scores 1.
        """
        with open_frames(source) as frames:
            yield from super().track_video(frames, boxes)
