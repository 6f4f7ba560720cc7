"""Inference: the tracker (`SimTrackTracker`, `track_many`), `pipeline("visual-object-tracking")`, the ONNX
Runtime backend and target attention maps (computed through the tracker)."""

from .attention import attention_maps, target_attention_maps
from .options import TrackingOptions
from .pipeline import VisualObjectTrackingPipeline
from .tracker import SimTrackTracker, TrackingResult, track_many

__all__ = [
    "SimTrackTracker", "TrackingOptions", "TrackingResult", "VisualObjectTrackingPipeline", "attention_maps", "target_attention_maps",
    "track_many",
]
