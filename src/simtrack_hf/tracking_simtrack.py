"""The SimTrack tracking session: N targets with object ids through one video, all in one forward per frame.

A `SimTrackSession` holds the state of one video (object ids, template tokens, boxes, lost flags, frame index);
the model is stateless and the image processor makes its crops. Per frame it crops the search region around each
target's previous box, runs the model once for all targets, maps the boxes back to the image and clips them
(10 px margin), as the paper's tracker (no window, smoothing or template update by default). Targets can be added
(`add_objects`, templated on the frame given) and removed (`remove_objects`) at any frame. `track_many` steps
several sessions that share one model (several videos) in ONE forward: each session prepares its inputs
(`prepare_step`: the step carries every decision of the frame) and takes its own slice of the batched output
(`apply_step`). `track_videos` is the one loop over whole videos (the CLI, the app, the evaluation runner and the
pipeline run it). Frames are RGB.

Inference-time robustness options (`TrackingOptions`, all off for the published variants; the defaults are the
paper's tracker exactly), each with its own switch:

* ``lost_threshold``: a target whose score is below it is flagged ``lost`` for that frame;
* ``corner_prior_weight`` / ``corner_prior_sigma``: a motion prior on the corner heatmaps. Each corner's
  probabilities are multiplied by ``(1 - weight) + weight * exp(-d² / 2σ²)``, d the distance to where that corner
  of the previous box lies in the search crop and σ = ``corner_prior_sigma`` × the previous box's side (crop
  pixels), then renormalised before the soft-argmax;
* ``max_scale_change``: the box's width and height change by at most this factor per frame;
* ``hold_lost_boxes``: a lost target keeps its previous box instead of jumping to the best guess;
* ``lost_search_growth``: a lost target's next search region is this much larger (side), until it is found;
* ``template_update_threshold`` / ``template_update_interval``: every ``interval`` frames, a target whose score
  is at least the threshold is re-templated on the current frame (as STARK-ST's score-gated update).

The values live in the model config (``SimTrackConfig.tracking_options``); a session may override them, and a
call to `track` may override them for that frame.

This file imports only its sibling model files, so it also works as Hub remote code.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .image_processing_simtrack import SimTrackImageProcessor, to_rgb_uint8
from .modeling_simtrack import box_xyxy_to_cxcywh, soft_argmax, soft_argmax_coordinates

__all__ = ["SearchStep", "SimTrackSession", "TrackedFrame", "TrackingOptions", "TrackingResult",
           "corner_prior_boxes", "prepare_steps", "refine_predictions", "track_many", "track_steps", "track_videos"]


@dataclass(frozen=True)
class TrackingOptions:
    """Post-processing of one tracker (see the module docstring). The defaults are the paper's tracker."""

    lost_threshold: float | None = None
    corner_prior_weight: float = 0.0
    corner_prior_sigma: float = 0.5
    max_scale_change: float | None = None
    hold_lost_boxes: bool = False
    lost_search_growth: float = 1.0
    template_update_threshold: float | None = None
    template_update_interval: int = 10

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), {"bool": bool, "int": numbers.Integral}.get(f.type, numbers.Real)
            optional = "None" in f.type
            if (value is None and not optional) or (value is not None and (
                    not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)))):
                expected = {bool: "true or false", numbers.Integral: "an integer"}.get(kind, "a number")
                raise ValueError(f"tracking option {f.name} must be {expected}{' or null' if optional else ''}, "
                                 f"got {value!r}")
        checks = {
            "lost_threshold": self.lost_threshold is None or 0.0 <= self.lost_threshold <= 1.0,
            "corner_prior_weight": 0.0 <= self.corner_prior_weight <= 1.0,
            "corner_prior_sigma": self.corner_prior_sigma > 0 and math.isfinite(self.corner_prior_sigma),
            "max_scale_change": self.max_scale_change is None or 1.0 <= self.max_scale_change < math.inf,
            "lost_search_growth": 1.0 <= self.lost_search_growth <= 4.0,
            "template_update_threshold": self.template_update_threshold is None
            or 0.0 <= self.template_update_threshold <= 1.0,
            "template_update_interval": self.template_update_interval >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid tracking option {bad[0]}={getattr(self, bad[0])!r} (see TrackingOptions)")
        if (self.hold_lost_boxes or self.lost_search_growth > 1.0) and self.lost_threshold is None:
            raise ValueError("hold_lost_boxes and lost_search_growth need a lost_threshold")

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "TrackingOptions":
        """Options stored in ``config.tracking_options`` (a dict; absent = the paper's tracker), then ``overrides``."""
        names = cls._check_names(overrides)
        stored = dict(getattr(config, "tracking_options", None) or {})
        unknown = sorted(set(stored) - names)
        if unknown:
            raise ValueError(f"config.tracking_options has unknown key(s) {unknown}; known: {sorted(names)}")
        return cls(**{**stored, **overrides})

    @classmethod
    def _check_names(cls, overrides: Mapping[str, Any]) -> set[str]:
        """The option names; raises ValueError naming any key of `overrides` that is not one."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown tracking option(s) {unknown}; known: {sorted(names)}")
        return names

    def override(self, **changes: Any) -> "TrackingOptions":
        """These options with `changes` applied (validated; unknown names refused)."""
        self._check_names(changes)
        return dataclasses.replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """The options that differ from the paper's tracker (what a config stores)."""
        default = TrackingOptions()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


def corner_prior_boxes(corner_logits: torch.Tensor, previous_wh: torch.Tensor, weights: torch.Tensor,
                       sigmas: torch.Tensor, stride: int) -> torch.Tensor:
    """Soft-argmax boxes after the motion prior on the corner heatmaps (the corner head's own soft-argmax).

    Args:
        corner_logits: (B, 2, G, G) top-left / bottom-right logits.
        previous_wh: (B, 2) previous box size in search-crop pixels (the box is centred in the crop).
        weights, sigmas: (B,) prior weight in [0, 1] and width (x the previous box side).
        stride: crop pixels per heatmap cell.

    Returns:
        (B, 4) normalised cxcywh boxes in the search crop.
    """
    grid = corner_logits.shape[-1]
    size = float(grid * stride)
    coordinates = soft_argmax_coordinates(grid, stride).to(corner_logits.device)  # (2, G²) cell top-left corners
    centre = size / 2
    expected = torch.stack((centre - previous_wh / 2, centre + previous_wh / 2), 1)  # (B, 2 corners, 2)
    d2 = ((coordinates.T[None, None] - expected[:, :, None]) ** 2).sum(-1)  # (B, 2, G²)
    sigma = (sigmas.float() * previous_wh.prod(-1).clamp_min(1e-6).sqrt())[:, None, None]
    prior = (1 - weights.float())[:, None, None] + weights.float()[:, None, None] * torch.exp(-d2 / (2 * sigma**2))
    probs = corner_logits.float().flatten(2).softmax(-1) * prior
    probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-12)
    return box_xyxy_to_cxcywh(soft_argmax(probs, coordinates, size))


def refine_predictions(pred_boxes: torch.Tensor, corner_logits: torch.Tensor | None, scores: torch.Tensor,
                       previous_wh: torch.Tensor, options: list[TrackingOptions], search_size: int, stride: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply each row's options to the model's predictions, in search-crop coordinates.

    Args:
        pred_boxes: (B, 4) normalised cxcywh in the search crop (`SimTrackOutput.pred_boxes`).
        corner_logits: (B, 2, G, G) or None (only needed when a row uses the corner prior).
        scores: (B,) model scores.
        previous_wh: (B, 2) previous box size in search-crop pixels (the crop is centred on that box).
        options: one `TrackingOptions` per row.
        search_size: S, the crop side; stride: crop pixels per heatmap cell (the patch size).

    Returns:
        refined boxes (B, 4) normalised cxcywh (float32, CPU) and ``lost`` (B,) bool.
    """
    boxes = pred_boxes.detach().float().cpu().clone()
    previous = previous_wh.detach().float().cpu()
    weights = torch.tensor([o.corner_prior_weight for o in options])
    if (weights > 0).any():
        if corner_logits is None:
            raise ValueError("corner_prior_weight > 0 needs the corner heatmaps, which this backend does not return")
        sigmas = torch.tensor([o.corner_prior_sigma for o in options])
        rows = torch.nonzero(weights > 0).flatten()
        boxes[rows] = corner_prior_boxes(corner_logits.detach().cpu()[rows], previous[rows], weights[rows],
                                         sigmas[rows], stride)
    thresholds = torch.tensor([-1.0 if o.lost_threshold is None else o.lost_threshold for o in options])
    lost = scores.detach().float().cpu() < thresholds
    previous = previous / search_size
    for i, o in enumerate(options):
        if o.max_scale_change is not None:
            r = o.max_scale_change
            boxes[i, 2:] = torch.minimum(torch.maximum(boxes[i, 2:], previous[i] / r), previous[i] * r)
        if o.hold_lost_boxes and lost[i]:
            boxes[i] = torch.cat((torch.tensor([0.5, 0.5]), previous[i]))
    return boxes, lost


# ------------------------------------------------------------------------------------------------ the session
@dataclass
class TrackingResult:
    """The live targets of one frame, in the order of `object_ids`.

    frame_index: index of the frame in the video (0 = the first frame of the session).
    object_ids: the N target ids.
    boxes: (N, 4) float64 `[x, y, w, h]` pixels.
    scores: (N,) float32 confidence in [0, 1] (1.0 on the frame a target was added).
    lost: (N,) bool, score below the `lost_threshold` in use (all False without one).
    """

    frame_index: int
    object_ids: list[Hashable]
    boxes: np.ndarray
    scores: np.ndarray
    lost: np.ndarray


@dataclass(frozen=True)
class SearchStep:
    """A session's inputs to one batched forward (`SimTrackSession.prepare_step`), for its next frame: every
    decision of that frame (where each crop is centred, the options in force) is made here and only read afterwards
    (`apply_step`, `simtrack_hf.inference.attention.attention_maps`).

    frame: (H, W, 3) uint8 RGB. object_ids: the N targets (their order in every tensor).
    search_pixel_values: (N, 3, S, S) float32 search crops. resize_factors: (N,) float64 crop px per image px.
    image_sizes: (N, 2) int64 (H, W). centred_on: (N, 4) boxes the crops are centred on.
    options: the options of this frame (the session's, with the call's overrides).
    """

    frame: np.ndarray
    frame_index: int
    object_ids: tuple[Hashable, ...]
    search_pixel_values: torch.Tensor
    resize_factors: torch.Tensor
    image_sizes: torch.Tensor
    centred_on: np.ndarray
    options: TrackingOptions


class SimTrackSession:
    """The state of one video, tracked with a stateless [`SimTrackModel`] (or an ONNX runner called like it).

    Example:
        session = SimTrackSession(model)                          # or SimTrackTracker.from_pretrained(...)
        session.add_objects(first_frame, {"car": [x, y, w, h]})
        result = session.track(next_frame)                        # result.object_ids, .boxes, .scores, .lost
        session.add_objects(next_frame, {"dog": [x, y, w, h]})    # templated on this frame; "car" unaffected
        session.remove_objects(["car"])

    `init(frame, boxes)` / `track(frame)` / `track_video(frames, boxes)` are the simple API (ids 0..N-1).
    """

    def __init__(
        self,
        model: Any,
        processor: SimTrackImageProcessor | None = None,
        device: str | torch.device | None = None,
        torch_dtype: torch.dtype | None = None,
        **tracking_options: Any,
    ) -> None:
        """`model` is a `SimTrackModel` or a runner with its call signature and `embed_template` (CPU float32);
        `tracking_options` override the `TrackingOptions` stored in the model config (e.g. `lost_threshold=0.3`)."""
        self.options = TrackingOptions.from_config(model.config, **tracking_options)
        self.processor = processor or SimTrackImageProcessor.from_model_config(model.config)
        for name in ("template_size", "search_size", "template_factor", "search_factor"):
            if getattr(self.processor, name) != getattr(model.config, name):
                raise ValueError(
                    f"processor {name}={getattr(self.processor, name)} does not match the model's "
                    f"{getattr(model.config, name)} (preprocessor_config.json and config.json disagree)"
                )
        if isinstance(model, torch.nn.Module):
            self.device = torch.device(device) if device is not None else next(model.parameters()).device
            self.dtype = torch_dtype or next(model.parameters()).dtype
            self.model = model.to(device=self.device, dtype=self.dtype).eval()
        else:  # an ONNX Runtime runner: takes and returns CPU float32 tensors
            self.device, self.dtype, self.model = torch.device("cpu"), torch.float32, model
        self.reset()

    def new_session(self) -> "SimTrackSession":
        """An empty session of the same class on the same model, processor, device, dtype and options."""
        # every field, not only those that differ from the paper's: an override back to a default must survive
        return type(self)(self.model, self.processor, self.device, self.dtype, **dataclasses.asdict(self.options))

    def reset(self) -> None:
        """Forget every target and the video (the next `add_objects` / `init` starts at frame 0)."""
        self._ids: list[Hashable] = []
        self._boxes = np.zeros((0, 4), dtype=np.float64)
        self._scores = np.zeros(0, dtype=np.float32)
        self._lost = np.zeros(0, dtype=bool)
        self.template_embeddings: tuple[torch.Tensor, ...] | None = None  # template + foveal tokens, (N, ...) each
        self.template_boxes: torch.Tensor | None = None  # (N, 4) normalised xywh in the template crop
        self._image_size: tuple[int, int] | None = None
        self._frame_index = -1  # no frame yet

    # ------------------------------------------------------------------------------------------ read-only state
    @property
    def object_ids(self) -> list[Hashable]:
        """Ids of the live targets (the row order of every result)."""
        return list(self._ids)

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) current `[x, y, w, h]` pixel boxes."""
        if self._image_size is None:
            raise RuntimeError("call init(frame, boxes) or add_objects(frame, {id: box}) before tracking")
        return self._boxes.copy()

    @property
    def frame_index(self) -> int:
        """Index of the last frame seen (-1 before the first)."""
        return self._frame_index

    def _result(self) -> TrackingResult:
        return TrackingResult(self._frame_index, self.object_ids, self._boxes.copy(), self._scores.copy(),
                              self._lost.copy())

    def _checked_frame(self, frame: Any, index: int) -> np.ndarray:
        frame = to_rgb_uint8(frame)
        if self._image_size is not None and frame.shape[:2] != self._image_size:
            raise ValueError(
                f"frame {index} size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's "
                f"{self._image_size[1]}x{self._image_size[0]}: a video must keep one resolution"
            )
        return frame

    def _embed_templates(self, template: Mapping[str, torch.Tensor]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Template tokens and template boxes (K, 4) of processor template crops (`crop="template"` outputs)."""
        template_boxes = template["template_boxes"].to(self.device, self.dtype)
        with torch.inference_mode():  # template-only work, done once per target and reused exactly
            embeddings = self.model.embed_template(
                template["template_pixel_values"].to(self.device, self.dtype), template_boxes
            )
        return tuple(embeddings), template_boxes

    # ------------------------------------------------------------------------------------------ targets
    def add_objects(self, frame: Any, objects: Mapping[Hashable, Any]) -> TrackingResult:
        """Start tracking `objects` ({id: `[x, y, w, h]` pixels}) templated on `frame` (RGB), the session's current
        frame (or its first one). Targets already tracked are unaffected. Returns every live target on this frame
        (the new ones with their given box and score 1).

        Raises ValueError naming the id for an id already tracked or a box outside the frame, and naming the frame
        for a frame of another size; the session is then unchanged.
        """
        if not isinstance(objects, Mapping) or not objects:
            raise ValueError(f"objects must be a non-empty {{id: [x, y, w, h]}} mapping, got {objects!r}")
        index = max(self._frame_index, 0)
        frame = self._checked_frame(frame, index)
        for object_id in objects:
            if object_id in self._ids:
                raise ValueError(f"object id {object_id!r} is already tracked (tracked: {self._ids})")
        crops = []
        for object_id, box in objects.items():
            try:  # one crop per target: the error names its id
                crops.append(self.processor.preprocess(frame, box, crop="template"))
            except ValueError as error:
                raise ValueError(f"object id {object_id!r} on frame {index}: {error}") from error
        boxes = np.array([np.asarray(box, dtype=np.float64).reshape(4) for box in objects.values()])
        keys = ("template_pixel_values", "template_boxes")
        embeddings, template_boxes = self._embed_templates({k: torch.cat([c[k] for c in crops]) for k in keys})
        if self.template_embeddings is not None:
            embeddings = tuple(torch.cat(pair) for pair in zip(self.template_embeddings, embeddings))
            template_boxes = torch.cat([self.template_boxes, template_boxes])
        self.template_embeddings, self.template_boxes = embeddings, template_boxes
        self._ids += list(objects)
        self._boxes = np.concatenate([self._boxes, boxes])
        self._scores = np.concatenate([self._scores, np.ones(len(boxes), dtype=np.float32)])
        self._lost = np.concatenate([self._lost, np.zeros(len(boxes), dtype=bool)])
        self._image_size, self._frame_index = frame.shape[:2], index
        return self._result()

    def remove_objects(self, object_ids: Iterable[Hashable]) -> None:
        """Stop tracking `object_ids`; raises ValueError naming an id that is not tracked or given twice (the
        session is then unchanged)."""
        object_ids = list(object_ids)
        for position, object_id in enumerate(object_ids):
            if object_id not in self._ids:
                raise ValueError(f"object id {object_id!r} is not tracked (tracked: {self._ids})")
            if object_id in object_ids[:position]:
                raise ValueError(f"object id {object_id!r} is given twice")
        keep = [row for row, object_id in enumerate(self._ids) if object_id not in object_ids]
        rows = torch.as_tensor(keep, dtype=torch.long, device=self.device)
        self._ids = [self._ids[row] for row in keep]
        self._boxes, self._scores, self._lost = self._boxes[keep], self._scores[keep], self._lost[keep]
        if keep:
            self.template_embeddings = tuple(t.index_select(0, rows) for t in self.template_embeddings)
            self.template_boxes = self.template_boxes.index_select(0, rows)
        else:
            self.template_embeddings = self.template_boxes = None

    def init(self, frame: Any, boxes: Any) -> TrackingResult:
        """Reset, then track `boxes` ((4,) or (N, 4) `[x, y, w, h]` pixels: ids 0..N-1, or an {id: box} mapping)
        from `frame` (RGB, frame 0)."""
        if not isinstance(boxes, Mapping):
            boxes = dict(enumerate(np.asarray(boxes).reshape(-1, 4)))  # dtype kept: the processor refuses booleans
        state = self.__dict__.copy()
        self.reset()
        try:
            return self.add_objects(frame, boxes)
        except ValueError:
            self.__dict__.update(state)
            raise

    # ------------------------------------------------------------------------------------------ stepping
    def search_boxes(self, growth: float | None = None) -> np.ndarray:
        """(N, 4) boxes the next search crops are centred on: the current boxes, enlarged by `growth` (default: the
        session's `lost_search_growth`; same centre) for targets lost on the last frame."""
        boxes = self.boxes
        growth = self.options.lost_search_growth if growth is None else growth
        if growth > 1.0 and self._lost.any():
            grow = np.where(self._lost, growth, 1.0)[:, None]
            boxes[:, :2] -= boxes[:, 2:] * (grow - 1) / 2
            boxes[:, 2:] *= grow
        return boxes

    def prepare_step(self, frame: Any, **options: Any) -> SearchStep:
        """Search crops of every target in the next RGB `frame` (the session is unchanged). `options` override
        the session's `TrackingOptions` for this frame (e.g. `lost_threshold=0.5`)."""
        if self._image_size is None:
            raise RuntimeError("call init(frame, boxes) or add_objects(frame, {id: box}) before track(frame)")
        step_options = self.options.override(**options)
        frame = self._checked_frame(frame, self._frame_index + 1)
        centred_on = self.search_boxes(step_options.lost_search_growth)
        if len(centred_on):
            search = self.processor.preprocess(frame, centred_on, crop="search")
            pixels, factors, sizes = search["search_pixel_values"], search["resize_factors"], search["image_sizes"]
        else:
            size = self.processor.search_size
            pixels = torch.zeros(0, 3, size, size)
            factors, sizes = torch.zeros(0, dtype=torch.float64), torch.zeros(0, 2, dtype=torch.int64)
        return SearchStep(frame, self._frame_index + 1, tuple(self._ids), pixels, factors, sizes, centred_on,
                          step_options)

    def apply_step(self, step: SearchStep, pred_boxes: torch.Tensor, scores: torch.Tensor,
                   corner_logits: torch.Tensor | None = None) -> TrackingResult:
        """Take this session's slice of a batched forward over `step` (from `prepare_step`) and advance a frame.

        Args:
            pred_boxes: (N, 4) normalised cxcywh in the search crops (`SimTrackOutput.pred_boxes` rows).
            scores: (N,) model scores. corner_logits: (N, 2, G, G) or None (needed by the corner prior only).
        """
        if step.frame_index != self._frame_index + 1 or step.object_ids != tuple(self._ids):
            raise ValueError("this step was prepared for another state of the session (targets or frame changed)")
        if len(pred_boxes) != len(step.object_ids):
            raise ValueError(f"got {len(pred_boxes)} predictions for {len(step.object_ids)} targets")
        scores = scores.detach().float().cpu().numpy()
        if len(scores):
            config = self.model.config
            previous_wh = torch.as_tensor(self._boxes[:, 2:]) * step.resize_factors[:, None]
            pred, lost = refine_predictions(pred_boxes, corner_logits, torch.as_tensor(scores), previous_wh,
                                            [step.options] * len(scores), config.search_size, config.patch_size)
            self._boxes = self.processor.post_process_box_predictions(
                pred, step.centred_on, step.resize_factors, step.image_sizes
            ).numpy()
            self._lost = lost.numpy()
        self._scores = scores
        self._frame_index = step.frame_index
        self._update_templates(step.frame, scores, step.options)
        return self._result()

    def _update_templates(self, frame: np.ndarray, scores: np.ndarray, options: TrackingOptions) -> None:
        """Score-gated template update: every `template_update_interval` frames, re-template the targets whose
        score reaches `template_update_threshold` on `frame` at their current box."""
        threshold = options.template_update_threshold
        if threshold is None or self._frame_index % options.template_update_interval:
            return
        rows = np.flatnonzero((scores >= threshold) & ~self._lost)
        if len(rows) == 0:
            return
        fresh, boxes = self._embed_templates(self.processor.preprocess(frame, self._boxes[rows], crop="template"))
        index = torch.as_tensor(rows, device=self.device)
        self.template_embeddings = tuple(
            old.index_copy(0, index, new) for old, new in zip(self.template_embeddings, fresh)
        )
        self.template_boxes = self.template_boxes.index_copy(0, index, boxes)

    def track(self, frame: Any, **options: Any) -> TrackingResult:
        """Locate every target in the next RGB `frame` (one forward); `options` override the session's
        `TrackingOptions` for this frame (e.g. `lost_threshold=0.5`)."""
        return track_many([self], [frame], **options)[0]

    def track_video(self, frames: Iterable[Any], boxes: Any) -> Iterator[TrackingResult]:
        """Stream results over RGB `frames` (a list or any iterator): `init` on the first with `boxes`, then
        `track` (the first result is the first frame, scores 1); `track_videos` with this one video."""
        for tracked in track_videos([(self, frames, boxes)]):
            yield tracked.result


def _check_shared(sessions: Sequence[SimTrackSession], count: int) -> None:
    if count != len(sessions) or not sessions:
        raise ValueError(f"need one frame per session, got {count} frames for {len(sessions)} sessions")
    first = sessions[0]
    if any(s.model is not first.model or (s.device, s.dtype) != (first.device, first.dtype) for s in sessions):
        raise ValueError("track_many needs sessions that share one model, device and dtype")


def prepare_steps(sessions: Sequence[SimTrackSession], frames: Sequence[Any], pool: ThreadPoolExecutor | None = None,
                  **options: Any) -> list[SearchStep]:
    """Each session's `prepare_step` for its next frame (crops made in `pool` threads when given)."""
    _check_shared(sessions, len(frames))
    return list((pool.map if pool else map)(lambda pair: pair[0].prepare_step(pair[1], **options),
                                            zip(sessions, frames)))


@torch.inference_mode()
def track_steps(sessions: Sequence[SimTrackSession], steps: Sequence[SearchStep]) -> list[TrackingResult]:
    """ONE forward over the prepared `steps` (`prepare_steps`) of sessions that share one model; each session
    takes its own slice of the output (`apply_step`)."""
    _check_shared(sessions, len(steps))
    first = sessions[0]
    live = [(s, step) for s, step in zip(sessions, steps) if step.object_ids]
    outputs = None
    if live:
        outputs = first.model(
            search_pixel_values=torch.cat([step.search_pixel_values for _, step in live]).to(first.device, first.dtype),
            template_embeddings=tuple(torch.cat(parts) for parts in zip(*(s.template_embeddings for s, _ in live))),
        )
    corner_logits = getattr(outputs, "corner_logits", None)
    results, start = [], 0
    for session, step in zip(sessions, steps):
        stop = start + len(step.object_ids)
        if step.object_ids:
            rows = slice(start, stop)
            results.append(session.apply_step(step, outputs.pred_boxes[rows], outputs.scores[rows],
                                              None if corner_logits is None else corner_logits[rows]))
        else:
            results.append(session.apply_step(step, torch.zeros(0, 4), torch.zeros(0)))
        start = stop
    return results


def track_many(sessions: Sequence[SimTrackSession], frames: Sequence[Any], pool: ThreadPoolExecutor | None = None,
               **options: Any) -> list[TrackingResult]:
    """Advance sessions that share one model by one frame each, in ONE forward (all their targets are rows).

    `frames[i]` is session i's next RGB frame (each session follows its own video: this is how an evaluation
    batches several sequences). Search crops are made in `pool` threads when given; `options` override every
    session's `TrackingOptions` for this frame. `prepare_steps`, then `track_steps`.
    """
    return track_steps(sessions, prepare_steps(sessions, frames, pool, **options))


# ------------------------------------------------------------------------------------------------ the loop
@dataclass
class TrackedFrame:
    """One frame of one video from `track_videos`.

    video: the video's position in the input. frame: the frame as its iterator gave it. result: the session's
    `TrackingResult`. seconds: time of the initialisation (frame 0) or of the frame's share of its batched step
    (crop + forward + post-processing; reading frames and `inspect` are not counted). inspection: what `inspect`
    returned for this frame (None where it was not called).
    """

    video: int
    frame: Any
    result: TrackingResult
    seconds: float
    inspection: Any = None


class _Video:
    """One video in flight: its session, frame iterator and next (read-ahead) frame."""

    _END = object()

    def __init__(self, position: int, session: SimTrackSession, frames: Iterable[Any], name: str | None) -> None:
        self.position, self.session, self.frames, self.name = position, session, iter(frames), name
        self.next_frame: Any = None

    def read(self) -> bool:
        """Read the next frame; False when the video has ended."""
        self.next_frame = next(self.frames, self._END)
        return self.next_frame is not self._END


def _named(error: ValueError, videos: Sequence[_Video], what: str) -> ValueError:
    """`error` with the names of `videos` in front (unchanged when they have none)."""
    names = ", ".join(repr(v.name) for v in videos if v.name is not None)
    return ValueError(f"{what} {names}: {error}") if names else error


def track_videos(videos: Iterable[tuple], *, batch_size: int = 1, pool: ThreadPoolExecutor | None = None,
                 inspect: Any = None, inspect_every: int = 0, **options: Any) -> Iterator[TrackedFrame]:
    """The tracking loop: stream every frame of every video, `batch_size` videos stepped together in ONE forward.

    Args:
        videos: ``(session, frames, boxes)`` or ``(session, frames, boxes, name)`` per video, read lazily (a
            generator may create each session when its video starts); sessions that step together share one
            model, device and dtype (`track_many`). `frames` is any iterable of RGB frames; frame 0 is `init` with
            `boxes`. A name is put in front of the errors of its video.
        batch_size: videos in flight; when one ends the next starts, and joins the following step.
        pool: threads that read frames and make crops.
        inspect: ``inspect(session, step)`` is called with the prepared `SearchStep` of frame ``i`` (the crops the
            model then sees) when ``i > 0`` and ``i % inspect_every == 0``, before the step is tracked; what it
            returns is the frame's `TrackedFrame.inspection` (e.g. `simtrack_hf.inference.attention.attention_maps`).
        options: `TrackingOptions` overrides for every tracked frame.

    Yields each video's frames in order (frame 0 when it starts); an empty video raises ValueError.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pending = enumerate(iter(videos))
    active: list[_Video] = []
    while True:
        while len(active) < batch_size:  # start videos: frame 0 is the initialisation
            position, spec = next(pending, (None, None))
            if spec is None:
                break
            session, frames, boxes, *name = spec
            video = _Video(position, session, frames, name[0] if name else None)
            if not video.read():
                raise _named(ValueError("no frames: the video is empty"), [video], "sequence")
            started = time.perf_counter()
            try:
                result = session.init(video.next_frame, boxes)
            except ValueError as error:
                raise _named(error, [video], "sequence") from error
            yield TrackedFrame(position, video.next_frame, result, time.perf_counter() - started)
            video.next_frame = None
            active.append(video)
        unread = [v for v in active if v.next_frame is None]
        alive = dict(zip(map(id, unread), (pool.map if pool else map)(_Video.read, unread)))
        ended = [v for v in unread if not alive[id(v)]]
        if ended:  # free their places first, so the next videos join this step
            active = [v for v in active if v not in ended]
            continue
        if not active:
            return
        sessions = [v.session for v in active]
        try:
            started = time.perf_counter()
            steps = prepare_steps(sessions, [v.next_frame for v in active], pool, **options)
            seconds = time.perf_counter() - started
            inspections = [inspect(session, step) if inspect is not None and inspect_every
                           and step.frame_index % inspect_every == 0 else None for session, step in zip(sessions, steps)]
            started = time.perf_counter()
            results = track_steps(sessions, steps)
            seconds += time.perf_counter() - started
        except ValueError as error:
            raise _named(error, active, "tracking sequences") from error
        share = seconds / len(active)
        stepped = [(v, v.next_frame) for v in active]
        for video, _ in stepped:
            video.next_frame = None
        for (video, frame), result, inspection in zip(stepped, results, inspections):
            yield TrackedFrame(video.position, frame, result, share, inspection)
