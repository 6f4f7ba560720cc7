"""Inference-time robustness options of the tracker and the lost flag (all off for the published variants).

The paper's tracker takes the corner head's soft-argmax box as it is. :class:`TrackingOptions` adds, each as an
option with its own switch (defaults reproduce the paper exactly):

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

The values live in the model config (``SimTrackConfig.tracking_options``); trackers may override them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["TrackingOptions", "corner_prior_boxes", "refine_predictions"]


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
        checks = {
            "lost_threshold": self.lost_threshold is None or 0.0 <= self.lost_threshold <= 1.0,
            "corner_prior_weight": 0.0 <= self.corner_prior_weight <= 1.0,
            "corner_prior_sigma": self.corner_prior_sigma > 0 and math.isfinite(self.corner_prior_sigma),
            "max_scale_change": self.max_scale_change is None or 1.0 <= self.max_scale_change < math.inf,
            "lost_search_growth": 1.0 <= self.lost_search_growth <= 4.0,
            "template_update_threshold": self.template_update_threshold is None
            or 0.0 <= self.template_update_threshold <= 1.0,
            "template_update_interval": isinstance(self.template_update_interval, int)
            and self.template_update_interval >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid tracking option {bad[0]}={getattr(self, bad[0])!r} (see TrackingOptions)")
        if (self.hold_lost_boxes or self.lost_search_growth > 1.0) and self.lost_threshold is None:
            raise ValueError("hold_lost_boxes and lost_search_growth need a lost_threshold")

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "TrackingOptions":
        """Options stored in ``config.tracking_options`` (a dict; absent = the paper's tracker), then ``overrides``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown tracking option(s) {unknown}; known: {sorted(names)}")
        stored = dict(getattr(config, "tracking_options", None) or {})
        unknown = sorted(set(stored) - names)
        if unknown:
            raise ValueError(f"config.tracking_options has unknown key(s) {unknown}; known: {sorted(names)}")
        return cls(**{**stored, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The options that differ from the paper's tracker (what a config stores)."""
        default = TrackingOptions()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


def corner_prior_boxes(corner_logits: torch.Tensor, previous_wh: torch.Tensor, weights: torch.Tensor,
                       sigmas: torch.Tensor, stride: int) -> torch.Tensor:
    """Soft-argmax boxes after the motion prior on the corner heatmaps.

    Args:
        corner_logits: (B, 2, G, G) top-left / bottom-right logits.
        previous_wh: (B, 2) previous box size in search-crop pixels (the box is centred in the crop).
        weights, sigmas: (B,) prior weight in [0, 1] and width (x the previous box side).
        stride: crop pixels per heatmap cell.

    Returns:
        (B, 4) normalised cxcywh boxes in the search crop.
    """
    b, _, grid, _ = corner_logits.shape
    size = float(grid * stride)
    index = torch.arange(grid, dtype=torch.float32, device=corner_logits.device) * stride
    ys, xs = torch.meshgrid(index, index, indexing="ij")
    cells = torch.stack((xs.reshape(-1), ys.reshape(-1)), -1)  # (G², 2) top-left corners of the cells
    centre = size / 2
    expected = torch.stack((centre - previous_wh / 2, centre + previous_wh / 2), 1)  # (B, 2 corners, 2)
    d2 = ((cells[None, None] - expected[:, :, None]) ** 2).sum(-1)  # (B, 2, G²)
    sigma = (sigmas.float() * previous_wh.prod(-1).clamp_min(1e-6).sqrt())[:, None, None]
    prior = (1 - weights.float())[:, None, None] + weights.float()[:, None, None] * torch.exp(-d2 / (2 * sigma**2))
    probs = corner_logits.float().flatten(2).softmax(-1) * prior
    probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-12)
    corners = (probs[..., None] * cells).sum(-2) / size  # (B, 2, 2): tl, br normalised
    x1, y1, x2, y2 = corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0], corners[:, 1, 1]
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), -1)


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
