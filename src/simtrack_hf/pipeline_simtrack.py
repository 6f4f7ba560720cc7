"""`pipeline("visual-object-tracking")`: track boxes through whole videos with a SimTrack model.

    from transformers import pipeline
    pipe = pipeline("visual-object-tracking", model="org/sim-b16", trust_remote_code=True)
    frames = pipe(video_frames, box=[x, y, w, h])           # one entry per frame
    frames[3]  # {"frame": 3, "objects": [{"id": 0, "score": 0.93, "lost": False,
               #                          "box": {"xmin": ..., "ymin": ..., "xmax": ..., "ymax": ...}}]}
    pipe(video_frames, boxes={"car": box_a, "dog": box_b})   # ids of your choice (a list: ids 0..N-1)
    for frame in pipe(video_frames, box=[x, y, w, h], stream=True): ...   # frames as they are tracked
    pipe([video_a, video_b], box=[box_a, box_b], batch_size=2)            # several videos: one result list each
    pipe(image, box=[x, y, w, h])                                        # one frame: a one-frame video

Boxes in are `[x, y, w, h]` pixels on the first frame; boxes out follow the object-detection pipeline (corner
pixels). A video is a list, tuple or iterator of RGB frames, a (T, H, W, 3) array, or (with `simtrack_hf`
installed) a video file or image folder; a single frame (an (H, W, 3) array, tensor or PIL image) is a one-frame
video. A list whose items are videos is several videos: `box` / `boxes` is then one value for all, or a list with
one entry per video, and the result is one frame list per video. A video is stateful, so its frames are tracked in
order, one forward per frame; `batch_size` steps that many videos together in one forward (`track_videos`), and
`num_workers` is accepted for the `Pipeline` contract but frames are read by one reader per video. Tracking
options (e.g. `lost_threshold=0.4`) given to `pipeline(...)` apply to every call; given to a call they override
those. The state lives in a per-video `SimTrackSession`, never on the pipeline object. With `simtrack_hf`
imported the task is registered for any SimTrack folder; a Hub export carries this file and `custom_pipelines`
(load it with `trust_remote_code=True`). This file imports only its sibling model files, so it also works as Hub
remote code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from transformers import Pipeline

from .tracking_simtrack import SimTrackSession, TrackingOptions, TrackingResult, track_videos

TASK = "visual-object-tracking"

__all__ = ["TASK", "VisualObjectTrackingPipeline"]


def _open_video(video: Any) -> contextlib.AbstractContextManager:
    """A context manager giving the frames of `video`: frames as given, or a file / folder read by simtrack_hf."""
    if not _is_path(video):
        return contextlib.nullcontext([video] if _is_frame(video) else video)
    try:
        from simtrack_hf.io.frames import open_frames
    except ImportError as error:
        raise ValueError(f"reading the video file or folder {video!r} needs simtrack_hf (pip install simtrack_hf); "
                         "without it pass the frames (a list or iterator of RGB arrays)") from error
    return open_frames(video)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, bytes)) or hasattr(value, "__fspath__")


def _is_frame(value: Any) -> bool:
    """One image: an (H, W[, C]) array or tensor, or a PIL image (anything else with a `.mode`, `.size`)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim in (2, 3)
    return hasattr(value, "mode") and hasattr(value, "size") and hasattr(value, "convert")


def _is_several_videos(inputs: Any) -> bool:
    """A list / tuple whose items are videos (paths, frame sequences, iterators or (T, H, W, C) arrays)."""
    if not isinstance(inputs, (list, tuple)) or not inputs or _is_frame(inputs[0]):
        return False
    first = inputs[0]
    return _is_path(first) or isinstance(first, (list, tuple, Iterator)) or getattr(first, "ndim", None) == 4


def _depth(value: Any) -> int:
    """Nesting depth of a box value: a box is 1, a list or {id: box} mapping of boxes is 2, and so on."""
    if isinstance(value, Mapping):
        return 1 + max((_depth(v) for v in value.values()), default=1)
    if isinstance(value, (list, tuple, np.ndarray, torch.Tensor)) and len(value):
        return 1 + _depth(value[0])
    return 1 if isinstance(value, (list, tuple, np.ndarray, torch.Tensor)) else 0


class VisualObjectTrackingPipeline(Pipeline):
    """Video(s) (frames, a single frame, a (T, H, W, 3) array; with `simtrack_hf`, also a file or image folder) +
    first-frame box(es) -> per-frame objects."""

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def __call__(self, inputs: Any, box: Any = None, boxes: Any = None, stream: bool = False,
                 batch_size: int | None = None, num_workers: int | None = None,
                 **tracking_options: Any) -> list | Iterator:
        """Track `box` (`[x, y, w, h]` pixels, id 0) or `boxes` (N boxes: ids 0..N-1, or an {id: box} mapping)
        from the first frame of the video `inputs` (or of each video of a list of videos).

        Returns one `{"frame": index, "objects": [{"id", "box": {"xmin", "ymin", "xmax", "ymax"}, "score",
        "lost"}, ...]}` per frame (a list of those per video for several videos); `stream=True` yields them as
        they are tracked (several videos: each video's list as its batch finishes). `tracking_options` override
        the pipeline's and the model config's `TrackingOptions` (e.g. `lost_threshold=0.4`).
        """
        if (box is None) == (boxes is None):
            raise ValueError("give exactly one of box=[x, y, w, h] or boxes=[[x, y, w, h], ...] / {id: box}")
        options = {**self._preprocess_params, **self._sanitize_parameters(**tracking_options)[0]}
        batch_size = batch_size or self._batch_size or 1
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not _is_several_videos(inputs):
            frames = (self.postprocess(r) for r in self._forward(self.preprocess(inputs, box if boxes is None
                                                                                  else boxes, **options)))
            return frames if stream else list(frames)
        per_video = self._boxes_per_video(box, boxes, len(inputs))
        videos = (self._track_batch(inputs[start:start + batch_size], per_video[start:start + batch_size], options)
                  for start in range(0, len(inputs), batch_size))
        results = (frames for batch in videos for frames in batch)
        return results if stream else list(results)

    @staticmethod
    def _boxes_per_video(box: Any, boxes: Any, count: int) -> list[Any]:
        """One box set per video: `box` / `boxes` as one value for all videos, or a list with one per video."""
        value, single_depth = (box, 1) if boxes is None else (boxes, 2)
        if _depth(value) <= single_depth:
            return [value] * count
        if isinstance(value, Mapping) or len(value) != count:
            raise ValueError(f"{count} videos: give one {'box' if boxes is None else 'boxes'} value for all of them "
                             f"or a list with one per video")
        return list(value)

    def _sanitize_parameters(self, **tracking_options: Any) -> tuple[dict, dict, dict]:
        """Tracking options (from `pipeline(...)` or a call) go to `preprocess`; unknown names are refused."""
        TrackingOptions.from_config(self.model.config, **tracking_options)  # raises naming a bad option
        return tracking_options, {}, {}

    def preprocess(self, video: Any, boxes: Any, **tracking_options: Any) -> dict[str, Any]:
        """A fresh session for this video (tracking options checked here, before any frame is read)."""
        session = SimTrackSession(self.model, self.image_processor, device=self.device, **tracking_options)
        return {"session": session, "video": video, "boxes": boxes}

    def _forward(self, model_inputs: dict[str, Any]) -> Iterator[TrackingResult]:
        """The session's results, frame by frame (one forward per frame for every target)."""
        with _open_video(model_inputs["video"]) as frames:
            yield from model_inputs["session"].track_video(frames, model_inputs["boxes"])

    def _track_batch(self, videos: list[Any], boxes: list[Any], options: dict[str, Any]) -> list[list[dict]]:
        """Track `videos` together, one forward per frame for all of them (a video that ends drops out)."""
        outputs: list[list[dict]] = [[] for _ in videos]
        with contextlib.ExitStack() as stack:
            jobs = [(self.preprocess(None, video_boxes, **options)["session"], stack.enter_context(_open_video(video)),
                     video_boxes) for video, video_boxes in zip(videos, boxes)]
            for tracked in track_videos(jobs, batch_size=len(jobs)):
                outputs[tracked.video].append(self.postprocess(tracked.result))
        return outputs

    def postprocess(self, result: TrackingResult) -> dict[str, Any]:
        """One frame's `TrackingResult` -> `{"frame", "objects": [...]}` (object-detection box convention)."""
        objects = []
        for object_id, (x, y, w, h), score, lost in zip(result.object_ids, result.boxes.tolist(),
                                                         result.scores.tolist(), result.lost.tolist()):
            box = {"xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h}
            objects.append({"id": object_id, "box": box, "score": score, "lost": lost})
        return {"frame": result.frame_index, "objects": objects}
