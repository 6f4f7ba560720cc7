"""`pipeline("visual-object-tracking")`: track boxes through a whole video with a SimTrack model.

    from transformers import pipeline
    pipe = pipeline("visual-object-tracking", model="org/sim-b16", trust_remote_code=True)
    frames = pipe(video_frames, box=[x, y, w, h])           # one entry per frame
    frames[3]  # {"frame": 3, "objects": [{"id": 0, "score": 0.93, "lost": False,
               #                          "box": {"xmin": ..., "ymin": ..., "xmax": ..., "ymax": ...}}]}
    pipe(video_frames, boxes={"car": box_a, "dog": box_b})   # ids of your choice (a list: ids 0..N-1)
    for frame in pipe(video_frames, box=[x, y, w, h], stream=True): ...   # frames as they are tracked

Boxes in are `[x, y, w, h]` pixels on the first frame; boxes out follow the object-detection pipeline (corner
pixels). The video is a list or iterator of RGB frames; a video file or an image folder needs `simtrack_hf`
installed. A video is stateful, so one call runs one video from start to end; the state lives in a per-call
`SimTrackSession`, never on the pipeline object. With `simtrack_hf` imported the task is registered for any
SimTrack folder; a Hub export carries this file and `custom_pipelines` (load it with `trust_remote_code=True`).
This file imports only its sibling model files, so it also works as Hub remote code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from transformers import Pipeline

from .tracking_simtrack import SimTrackSession, TrackingResult

TASK = "visual-object-tracking"

__all__ = ["TASK", "VisualObjectTrackingPipeline"]


def _open_video(video: Any) -> contextlib.AbstractContextManager:
    """A context manager giving the frames of `video`: frames as given, or a file / folder read by simtrack_hf."""
    if not isinstance(video, (str, bytes)) and not hasattr(video, "__fspath__"):
        return contextlib.nullcontext(video)
    try:
        from simtrack_hf.io.frames import open_frames
    except ImportError as error:
        raise ValueError(f"reading the video file or folder {video!r} needs simtrack_hf (pip install simtrack_hf); "
                         "without it pass the frames (a list or iterator of RGB arrays)") from error
    return open_frames(video)


class VisualObjectTrackingPipeline(Pipeline):
    """Video (list or iterator of RGB frames; with `simtrack_hf`, also a file or image folder) + first-frame
    box(es) -> per-frame objects."""

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def __call__(self, video: Any, box: Any = None, boxes: Any = None, stream: bool = False,
                 **tracking_options: Any) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
        """Track `box` (`[x, y, w, h]` pixels, id 0) or `boxes` (N boxes: ids 0..N-1, or an {id: box} mapping)
        from the first frame of `video`.

        Returns one `{"frame": index, "objects": [{"id", "box": {"xmin", "ymin", "xmax", "ymax"}, "score",
        "lost"}, ...]}` per frame; `stream=True` yields them as they are tracked (nothing accumulates).
        `tracking_options` override the model config's `TrackingOptions` (e.g. `lost_threshold=0.4`).
        """
        if (box is None) == (boxes is None):
            raise ValueError("give exactly one of box=[x, y, w, h] or boxes=[[x, y, w, h], ...] / {id: box}")
        preprocess_params, _, _ = self._sanitize_parameters(boxes=box if boxes is None else boxes, **tracking_options)
        frames = (self.postprocess(result) for result in self._forward(self.preprocess(video, **preprocess_params)))
        return frames if stream else list(frames)

    def _sanitize_parameters(self, **preprocess_params: Any) -> tuple[dict, dict, dict]:
        """Every call argument goes to `preprocess` (the boxes and the tracking options)."""
        return preprocess_params, {}, {}

    def preprocess(self, video: Any, boxes: Any, **tracking_options: Any) -> dict[str, Any]:
        """A fresh session for this video (tracking options checked here, before any frame is read)."""
        session = SimTrackSession(self.model, self.image_processor, device=self.device, **tracking_options)
        return {"session": session, "video": video, "boxes": boxes}

    def _forward(self, model_inputs: dict[str, Any]) -> Iterator[TrackingResult]:
        """The session's results, frame by frame (one forward per frame for every target)."""
        with _open_video(model_inputs["video"]) as frames:
            yield from model_inputs["session"].track_video(frames, model_inputs["boxes"])

    def postprocess(self, result: TrackingResult) -> dict[str, Any]:
        """One frame's `TrackingResult` -> `{"frame", "objects": [...]}` (object-detection box convention)."""
        objects = []
        for object_id, (x, y, w, h), score, lost in zip(result.object_ids, result.boxes.tolist(),
                                                         result.scores.tolist(), result.lost.tolist()):
            box = {"xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h}
            objects.append({"id": object_id, "box": box, "score": score, "lost": lost})
        return {"frame": result.frame_index, "objects": objects}
