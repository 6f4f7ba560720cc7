"""pipeline("visual-object-tracking"): per-frame objects in the object-detection box convention, ids, streaming,
`model(**processor(...))`, and the Hub export through remote code in an interpreter where simtrack_hf is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import WITHOUT_SIMTRACK_HF, tiny_config
from transformers import pipeline

from simtrack_hf import SimTrackImageProcessor, SimTrackModel, SimTrackTracker, VisualObjectTrackingPipeline
from simtrack_hf.tools import hub

BOX, OTHER = [30.0, 20.0, 40.0, 30.0], [70.0, 50.0, 30.0, 30.0]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config())
    model.save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(folder)
    return folder


def frames(count=4):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    return [np.roll(base, 3 * i, axis=0) for i in range(count)]


def corners(box):
    x, y, w, h = box
    return {"xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h}


def box_rows(frame: dict) -> list[list[float]]:
    """[xmin, ymin, xmax, ymax] of every object of a pipeline frame."""
    return [[o["box"][k] for k in ("xmin", "ymin", "xmax", "ymax")] for o in frame["objects"]]


def test_objects_per_frame_match_the_tracker(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    assert isinstance(pipe, VisualObjectTrackingPipeline)
    out = pipe(frames(), box=BOX)
    assert [o["frame"] for o in out] == [0, 1, 2, 3]
    assert out[0] == {"frame": 0, "objects": [{"id": 0, "box": corners(BOX), "score": 1.0, "lost": False}]}
    expected = list(SimTrackTracker.from_pretrained(model_folder).track_video(frames(), BOX))
    for o, r in zip(out, expected):
        (obj,) = o["objects"]
        assert obj["box"] == pytest.approx(corners(r.boxes[0])) and obj["score"] == pytest.approx(r.scores[0])


def test_object_ids_folder_and_lost_threshold(model_folder, tmp_path):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames()):
        cv2.imwrite(str(folder / f"{i + 1}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    out = pipe(str(folder), boxes={"car": BOX, 5: OTHER}, lost_threshold=1.0)
    assert len(out) == 4 and all([o["id"] for o in f["objects"]] == ["car", 5] for f in out)
    assert out[0]["objects"][1]["box"] == corners(OTHER)
    assert all(o["lost"] for f in out[1:] for o in f["objects"]) and not out[0]["objects"][0]["lost"]
    again = pipe(frames(), boxes=[BOX, OTHER])  # a list: ids 0..N-1; no state leaks between calls
    assert [o["id"] for o in again[0]["objects"]] == [0, 1]
    for a, b in zip(again, out):
        np.testing.assert_allclose(box_rows(a), box_rows(b), rtol=0, atol=1e-6)


def test_stream_yields_frames_as_they_are_tracked(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    read = []

    def video():
        for i, frame in enumerate(frames(6)):
            read.append(i)
            yield frame

    stream = pipe(video(), box=BOX, stream=True)
    assert read == []  # nothing read before the first frame is asked for
    assert next(stream)["frame"] == 0 and read == [0]
    assert next(stream)["frame"] == 1 and read == [0, 1]
    assert [f["frame"] for f in stream] == [2, 3, 4, 5]


def test_bad_arguments(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    with pytest.raises(ValueError, match="exactly one"):
        pipe(frames())
    with pytest.raises(ValueError, match="exactly one"):
        pipe(frames(), box=[1, 2, 3, 4], boxes=[[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="positive width"):
        pipe(frames(), box=[1, 2, 0, 4])
    with pytest.raises(ValueError, match="unknown tracking option"):
        pipe(frames(), box=BOX, window=0.3)


def test_constructor_options_batch_arguments_and_several_videos(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu", lost_threshold=1.0,
                    batch_size=2, num_workers=0)
    out = pipe(frames(), box=BOX)
    assert all(o["lost"] for f in out[1:] for o in f["objects"])  # the constructor's option is honoured
    assert not any(o["lost"] for f in pipe(frames(), box=BOX, lost_threshold=0.0) for o in f["objects"])
    with pytest.raises(ValueError, match="unknown tracking option"):
        pipeline("visual-object-tracking", model=str(model_folder), device="cpu", window=0.3)
    plain = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    videos = [frames(4), np.stack(frames(3)), frames(2)]
    expected = [plain(video, box=BOX) for video in videos]
    for batch_size in (1, 2, 3):
        several = plain(videos, box=BOX, batch_size=batch_size, num_workers=1)
        assert [len(v) for v in several] == [4, 3, 2]
        for got, want in zip(several, expected):
            for a, b in zip(got, want):
                np.testing.assert_allclose(box_rows(a), box_rows(b), rtol=0, atol=1e-4)
    per_video = plain(videos[:2], boxes=[{"a": BOX}, [BOX, OTHER]], stream=True)
    assert not isinstance(per_video, list)
    first, second = list(per_video)
    assert [o["id"] for o in first[0]["objects"]] == ["a"] and [o["id"] for o in second[0]["objects"]] == [0, 1]
    with pytest.raises(ValueError, match="one per video"):
        plain(videos, box=[BOX, BOX])


def test_single_frame_is_a_one_frame_video(model_folder):
    from PIL import Image

    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    frame = frames(1)[0]
    for image in (frame, Image.fromarray(frame), torch.from_numpy(frame)):
        assert pipe(image, box=BOX) == [{"frame": 0, "objects": [{"id": 0, "box": corners(BOX), "score": 1.0,
                                                                   "lost": False}]}]


def test_model_takes_the_processor_outputs(model_folder):
    model = SimTrackModel.from_pretrained(model_folder).eval()
    processor = SimTrackImageProcessor.from_pretrained(model_folder)
    first, second = frames(2)
    template, search = processor(first, BOX, crop="template"), processor(second, BOX, crop="search")
    with torch.inference_mode():
        out = model(**template, **search)
    boxes = processor.post_process_box_predictions(out.pred_boxes, [BOX], search["resize_factors"],
                                                   search["image_sizes"])
    tracker = SimTrackTracker(model, processor)
    tracker.init(first, BOX)
    np.testing.assert_array_equal(boxes.numpy(), tracker.track(second).boxes)


REMOTE_SCRIPT = WITHOUT_SIMTRACK_HF + """
import numpy as np
from transformers import pipeline

folder, data = sys.argv[1], sys.argv[2]
video = list(np.load(data))
pipe = pipeline("visual-object-tracking", model=folder, trust_remote_code=True, device="cpu")
assert type(pipe).__module__.startswith("transformers_modules"), type(pipe).__module__
frames = pipe(iter(video), boxes={"a": BOX, "b": OTHER}, stream=True)
assert not isinstance(frames, list)
print(json.dumps([f for f in frames]))
assert not any(m == "simtrack_hf" or m.startswith("simtrack_hf.") for m in sys.modules)
"""


def test_remote_code_pipeline_without_the_package(model_folder, tmp_path):
    model = SimTrackModel.from_pretrained(model_folder).eval()
    processor = SimTrackImageProcessor.from_pretrained(model_folder)
    upload = tmp_path / "upload"
    hub.export_for_hub(model, processor, "sim-b16", upload, hub.WeightsSource("folder", str(model_folder)))
    config = json.loads((upload / "config.json").read_text())
    impl = config["custom_pipelines"]["visual-object-tracking"]["impl"]
    assert impl == "pipeline_simtrack.VisualObjectTrackingPipeline"
    np.save(tmp_path / "video.npy", np.stack(frames()))
    script = REMOTE_SCRIPT.replace("BOX", repr(BOX)).replace("OTHER", repr(OTHER))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(upload), str(tmp_path / "video.npy")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    local = pipe(frames(), boxes={"a": BOX, "b": OTHER})
    assert [f["frame"] for f in remote] == [0, 1, 2, 3]
    for r, f in zip(remote, local):
        assert [o["id"] for o in r["objects"]] == ["a", "b"]
        np.testing.assert_allclose(box_rows(r), box_rows(f), rtol=0, atol=1e-6)
