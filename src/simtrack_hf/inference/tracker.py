"""SimTrackTracker: the original one-pass tracking loop, with N targets as N rows of one forward.

Per frame: crop the search region around each target's previous box, run the model once for all targets,
map the boxes back to the image and clip them (10 px margin). By default no window, smoothing or template
update, as the paper; `TrackingOptions` (from the model config, overridable per tracker) adds a lost flag and
robustness options (see `simtrack_hf.inference.options`). Frames are RGB (see `simtrack_hf.io.frames` for
readers that convert OpenCV's BGR).
`track_many` advances several trackers that share one model (several videos) in one forward.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..convert_simtrack import load_pretrained
from ..image_processing_simtrack import SimTrackImageProcessor, to_rgb_uint8
from ..io.frames import open_frames
from .runtime import resolve_dtype
from ..modeling_simtrack import SimTrackModel
from .options import TrackingOptions, refine_predictions

if TYPE_CHECKING:
    from .onnx_runtime import OnnxSimTrackRunner


@dataclass
class TrackingResult:
    """Boxes of one frame.

    frame_index: index of the frame in the video (0 = the initialisation frame).
    boxes: (N, 4) float64 `[x, y, w, h]` pixels, one row per target.
    scores: (N,) float32 confidence in [0, 1] (1.0 on the initialisation frame).
    lost: (N,) bool, score below the tracker's `lost_threshold` (all False without one).
    """

    frame_index: int
    boxes: np.ndarray
    scores: np.ndarray
    lost: np.ndarray


class SimTrackTracker:
    """Track N targets through a video with a [`SimTrackModel`].

    Example:
        tracker = SimTrackTracker.from_pretrained("org/sim-b16")
        tracker.init(first_frame, [x, y, w, h])        # or an (N, 4) list of boxes
        result = tracker.track(next_frame)             # result.boxes (N, 4) xywh pixels, result.scores (N,)
    """

    def __init__(
        self,
        model: SimTrackModel | OnnxSimTrackRunner,
        processor: SimTrackImageProcessor | None = None,
        device: str | torch.device | None = None,
        torch_dtype: torch.dtype | None = None,
        **tracking_options: Any,
    ) -> None:
        """`model` is a `SimTrackModel` or an ONNX Runtime runner of an exported step (CPU float32 then);
        `tracking_options` override the `TrackingOptions` stored in the model config (e.g. `lost_threshold=0.3`)."""
        self.options = TrackingOptions.from_config(model.config, **tracking_options)
        self.processor = processor or SimTrackImageProcessor.from_model_config(model.config)
        for name in ("template_size", "search_size"):
            if getattr(self.processor, name) != getattr(model.config, name):
                raise ValueError(
                    f"processor {name}={getattr(self.processor, name)} does not match the model's "
                    f"{getattr(model.config, name)}"
                )
        if isinstance(model, torch.nn.Module):
            self.device = torch.device(device) if device is not None else next(model.parameters()).device
            self.dtype = torch_dtype or next(model.parameters()).dtype
            self.model = model.to(device=self.device, dtype=self.dtype).eval()
        else:  # OnnxSimTrackRunner: takes and returns CPU float32 tensors
            self.device, self.dtype, self.model = torch.device("cpu"), torch.float32, model
        self.template_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None  # template + foveal tokens
        self.template_boxes: torch.Tensor | None = None
        self._boxes: np.ndarray | None = None
        self._image_size: tuple[int, int] | None = None
        self._frame_index = 0
        self._lost: np.ndarray | None = None  # (N,) bool, last frame's lost flags

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

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) current `[x, y, w, h]` pixel boxes."""
        if self._boxes is None:
            raise RuntimeError("call init(frame, boxes) before tracking")
        return self._boxes.copy()

    def init(self, frame: Any, boxes: Any) -> TrackingResult:
        """Start tracking the target(s) `boxes` ((4,) or (N, 4) `[x, y, w, h]` pixels) in `frame` (RGB)."""
        frame = to_rgb_uint8(frame)
        template = self.processor.preprocess(frame, boxes, crop="template")
        self.template_boxes = template["template_boxes"].to(self.device, self.dtype)
        with torch.inference_mode():  # template-only work, done once per target and reused exactly
            self.template_embeddings = self.model.embed_template(
                template["pixel_values"].to(self.device, self.dtype), self.template_boxes
            )
        self._boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        self._image_size = frame.shape[:2]
        self._frame_index = 0
        self._lost = np.zeros(len(self._boxes), dtype=bool)
        return TrackingResult(0, self.boxes, np.ones(len(self._boxes), dtype=np.float32), self._lost.copy())

    def search_boxes(self) -> np.ndarray:
        """(N, 4) boxes the next search crops are centred on: the current boxes, enlarged by
        `lost_search_growth` (same centre) for targets lost on the last frame."""
        boxes = self._boxes.copy()
        growth = self.options.lost_search_growth
        if growth > 1.0 and self._lost is not None and self._lost.any():
            grow = np.where(self._lost, growth, 1.0)[:, None]
            boxes[:, :2] -= boxes[:, 2:] * (grow - 1) / 2
            boxes[:, 2:] *= grow
        return boxes

    def search_inputs(self, frame: Any) -> Any:
        """Search crops around the current boxes (a `BatchFeature`: `pixel_values` (N,3,S,S), `resize_factors`,
        `image_sizes`), after checking the frame; the tracker state is unchanged."""
        if self.template_embeddings is None:
            raise RuntimeError("call init(frame, boxes) before track(frame)")
        frame = to_rgb_uint8(frame)
        if frame.shape[:2] != self._image_size:
            raise ValueError(
                f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's "
                f"{self._image_size[1]}x{self._image_size[0]}: a video must keep one resolution"
            )
        return self.processor.preprocess(frame, self.search_boxes(), crop="search")

    def _update_templates(self, frame: np.ndarray, scores: np.ndarray) -> None:
        """Score-gated template update: every `template_update_interval` frames, re-template the targets whose
        score reaches `template_update_threshold` on `frame` at their current box."""
        threshold = self.options.template_update_threshold
        if threshold is None or self._frame_index % self.options.template_update_interval:
            return
        rows = np.flatnonzero((scores >= threshold) & ~self._lost)
        if len(rows) == 0:
            return
        template = self.processor.preprocess(frame, self._boxes[rows], crop="template")
        boxes = template["template_boxes"].to(self.device, self.dtype)
        with torch.inference_mode():
            fresh = self.model.embed_template(template["pixel_values"].to(self.device, self.dtype), boxes)
        index = torch.as_tensor(rows, device=self.device)
        self.template_embeddings = tuple(
            old.index_copy(0, index, new) for old, new in zip(self.template_embeddings, fresh)
        )
        self.template_boxes = self.template_boxes.index_copy(0, index, boxes)

    def track(self, frame: Any) -> TrackingResult:
        """Locate every target in the next RGB `frame`."""
        return track_many([self], [frame])[0]

    def track_video(self, source: Any, boxes: Any) -> Iterator[TrackingResult]:
        """Stream results over a video file, image folder, list of frames or any frame iterator.

        The first result is the initialisation frame with `boxes` and scores 1.
        """
        with open_frames(source) as frames:
            iterator = iter(frames)
            first = next(iterator, None)
            if first is None:
                raise ValueError(f"no frames in {source!r}")
            yield self.init(first, boxes)
            for frame in iterator:
                yield self.track(frame)


@torch.inference_mode()
def track_many(
    trackers: Sequence[SimTrackTracker], frames: Sequence[Any], pool: ThreadPoolExecutor | None = None
) -> list[TrackingResult]:
    """Advance trackers that share one model by one frame each, in ONE forward (all their targets are rows).

    `frames[i]` is tracker i's next RGB frame (each tracker may follow its own video: this is how an evaluation
    batches several sequences). Search crops are made in `pool` threads when given.
    """
    if len(trackers) != len(frames) or not trackers:
        raise ValueError(f"need one frame per tracker, got {len(frames)} frames for {len(trackers)} trackers")
    first = trackers[0]
    if any(t.model is not first.model for t in trackers):
        raise ValueError("track_many needs trackers that share one model")
    rgb = [to_rgb_uint8(frame) for frame in frames]
    searches = list((pool.map if pool else map)(lambda tf: tf[0].search_inputs(tf[1]), zip(trackers, rgb)))
    template = tuple(torch.cat(parts) for parts in zip(*(t.template_embeddings for t in trackers)))
    outputs = first.model(
        search_pixel_values=torch.cat([s["pixel_values"] for s in searches]).to(first.device, first.dtype),
        template_embeddings=template,
    )
    centred_on = np.concatenate([t.search_boxes() for t in trackers])
    resize_factors = torch.cat([s["resize_factors"] for s in searches])
    options = [t.options for t in trackers for _ in range(len(t._boxes))]
    config = first.model.config
    pred, lost = refine_predictions(
        outputs.pred_boxes, getattr(outputs, "corner_logits", None), outputs.scores,
        torch.as_tensor(np.concatenate([t._boxes[:, 2:] for t in trackers])) * resize_factors[:, None], options,
        config.search_size, config.patch_size,
    )
    boxes = first.processor.post_process_box_predictions(
        pred, centred_on, resize_factors, torch.cat([s["image_sizes"] for s in searches])
    ).numpy()
    scores = outputs.scores.float().cpu().numpy()
    lost = lost.numpy()
    results, start = [], 0
    for tracker, frame in zip(trackers, rgb):
        stop = start + len(tracker._boxes)
        tracker._boxes = boxes[start:stop]
        tracker._lost = lost[start:stop].copy()
        tracker._frame_index += 1
        tracker._update_templates(frame, scores[start:stop])
        results.append(TrackingResult(tracker._frame_index, tracker.boxes, scores[start:stop], tracker._lost.copy()))
        start = stop
    return results


__all__ = ["SimTrackTracker", "TrackingResult", "track_many"]
