"""Inference, what needs the package: `SimTrackTracker` (the tracking session of `simtrack_hf.tracking_simtrack`
with model loading and video files), the ONNX Runtime backend, CPU runtime choices and target attention maps."""

from .attention import attention_maps, target_attention_maps
from .tracker import SimTrackTracker

__all__ = ["SimTrackTracker", "attention_maps", "target_attention_maps"]
