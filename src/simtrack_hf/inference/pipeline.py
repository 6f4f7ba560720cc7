"""`pipeline("visual-object-tracking")`: track boxes through a whole video with a SimTrack model.

    from transformers import pipeline
    pipe = pipeline("visual-object-tracking", model="org/sim-b16")
    pipe("clip.mp4", box=[x, y, w, h])        # [{"frame": 0, "box": [x, y, w, h], "score": 1.0}, ...]
    pipe(frames, boxes=[box_a, box_b])        # one such list per target

Registered on `import simtrack_hf`. A video is stateful, so one call runs one video from start to end; the
tracking state lives in a per-call `SimTrackTracker`, never on the pipeline object.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .tracker import SimTrackTracker, TrackingResult

TASK = "visual-object-tracking"


class VisualObjectTrackingPipeline(Pipeline):
    """Video (file path, image folder, list of RGB frames or frame iterator) + first-frame box(es) -> boxes."""

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def __call__(self, video: Any, box: Any = None, boxes: Any = None, **kwargs: Any) -> list:
        """Track `box` (`[x, y, w, h]` pixels) or `boxes` (N such boxes) from the first frame of `video`.

        Returns a list of `{"frame", "box", "score"}` dicts per frame for one `box`, or N such lists for `boxes`
        (and for a `box` argument that holds N > 1 boxes).
        """
        if (box is None) == (boxes is None):
            raise ValueError("give exactly one of box=[x, y, w, h] or boxes=[[x, y, w, h], ...]")
        preprocess_params, forward_params, postprocess_params = self._sanitize_parameters(box=box, boxes=boxes, **kwargs)
        return self.run_single(video, preprocess_params, forward_params, postprocess_params)

    def _sanitize_parameters(self, box: Any = None, boxes: Any = None, **kwargs: Any):
        if kwargs:
            raise ValueError(f"unexpected arguments: {sorted(kwargs)}")
        return {"boxes": box if boxes is None else boxes}, {}, {"single": boxes is None}

    def preprocess(self, video: Any, boxes: Any) -> dict[str, Any]:
        return {"video": video, "boxes": boxes}

    def _forward(self, model_inputs: dict[str, Any]) -> list[TrackingResult]:
        tracker = SimTrackTracker(self.model, self.image_processor, device=self.device)
        return list(tracker.track_video(model_inputs["video"], model_inputs["boxes"]))

    def postprocess(self, results: list[TrackingResult], single: bool) -> list:
        per_target = [
            [{"frame": r.frame_index, "box": r.boxes[n].tolist(), "score": float(r.scores[n])} for r in results]
            for n in range(len(results[0].boxes))
        ]
        return per_target[0] if single and len(per_target) == 1 else per_target  # box=[b1, b2]: every target


PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VisualObjectTrackingPipeline, pt_model=AutoModel, type="image")

__all__ = ["VisualObjectTrackingPipeline"]
