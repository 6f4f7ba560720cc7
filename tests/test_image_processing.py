"""SimTrackImageProcessor: parity with the original pre/post-processing fixtures, input handling, errors."""

import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from simtrack_hf.image_processing_simtrack import SimTrackImageProcessor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from load_fixture import load_fixture  # noqa: E402


@pytest.fixture(scope="module")
def preproc():
    return load_fixture("preproc_eval")


@pytest.fixture(scope="module", params=["tiny_b16", "tiny_b32"])
def episode(request):
    fixture = load_fixture(request.param)
    return fixture["config"], fixture["tracker_episode"]


def processor_for(config):
    return SimTrackImageProcessor.from_model_config(type("Cfg", (), config))


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)


# --------------------------------------------------------------------------------------------- fixture parity
def test_sample_target_cases(preproc):
    proc = SimTrackImageProcessor()
    image = preproc["image"].numpy()
    for case in preproc["sample_target_cases"]:
        crops, rz = proc.crop_around_boxes(image, case["box_xywh"], case["factor"], case["output_sz"])
        assert crops.dtype == np.uint8 and crops.shape == (1, case["output_sz"], case["output_sz"], 3)
        np.testing.assert_array_equal(crops[0], case["crop"].numpy())
        assert rz[0] == case["resize_factor"]


def test_episode_crops_and_template(episode):
    config, ep = episode
    proc = processor_for(config)
    frames = [f.numpy() for f in ep["frames"]]
    # call 0 is the template on frame 0, call i >= 1 the search region on frame i
    for i, call in enumerate(ep["sample_target_calls"]):
        crops, rz = proc.crop_around_boxes(frames[i], call["box_in"], call["factor"], call["output_sz"])
        np.testing.assert_array_equal(crops[0], call["crop"].numpy())
        assert rz[0] == call["resize_factor"]
        if i > 0:  # search regions carry the geometry that maps boxes back
            out = proc(frames[i], call["box_in"], crop="search")
            assert out["resize_factors"].dtype == torch.float64
            assert out["resize_factors"][0].item() == call["resize_factor"]
            assert out["image_sizes"].tolist() == [list(frames[i].shape[:2])]
    template = proc.preprocess(frames[0], ep["init_bbox"], crop="template")
    assert set(template) == {"template_pixel_values", "template_boxes"}
    assert template["template_pixel_values"].dtype == torch.float32
    torch.testing.assert_close(template["template_pixel_values"], ep["template_tensor"], rtol=0, atol=0)
    torch.testing.assert_close(template["template_boxes"][0], ep["template_anno_norm"], rtol=0, atol=0)


def test_normalisation(preproc):
    proc = SimTrackImageProcessor()
    case = preproc["sample_target_cases"][1]  # the 112 crop
    expected = preproc["preprocessor_out_case1"]
    crop = case["crop"].numpy()[None]
    pixel_values = proc.normalize_crops(crop)
    assert pixel_values.shape == expected.shape and pixel_values.is_contiguous()
    torch.testing.assert_close(pixel_values, expected, rtol=0, atol=0)


def test_map_box_back_cases(episode):
    config, ep = episode
    proc = processor_for(config)
    for case in ep["map_box_back_cases"]:
        pred = torch.tensor([case["pred_norm_cxcywh"]], dtype=torch.float32)  # model outputs are float32
        args = (pred, [case["prev_state"]], [case["resize_factor"]], [case["H"], case["W"]])
        mapped = proc.post_process_box_predictions(*args, clip=False)
        clipped = proc.post_process_box_predictions(*args)
        assert clipped.dtype == torch.float64
        np.testing.assert_allclose(mapped[0].numpy(), case["mapped_xywh"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(clipped[0].numpy(), case["clipped_xywh"], rtol=0, atol=1e-9)
    # batched == per case
    batch = proc.post_process_box_predictions(
        torch.tensor([c["pred_norm_cxcywh"] for c in ep["map_box_back_cases"]]),
        [c["prev_state"] for c in ep["map_box_back_cases"]],
        [c["resize_factor"] for c in ep["map_box_back_cases"]],
        [[c["H"], c["W"]] for c in ep["map_box_back_cases"]],
    )
    np.testing.assert_allclose(batch.numpy(), [c["clipped_xywh"] for c in ep["map_box_back_cases"]], rtol=0, atol=1e-9)


def test_clip_box_cases(preproc):
    for case in preproc["clip_box_cases"]:
        out = SimTrackImageProcessor.clip_boxes([case["box"]], [case["H"], case["W"]], margin=case["margin"])
        np.testing.assert_allclose(out[0].numpy(), case["out"], rtol=0, atol=1e-9)


def test_episode_state_transitions(episode):
    """The fixture stores no raw predictions: invert each stored state into the search crop and map it back.

    Checks the chain (each search crop is centred on the previous state, with its resize factor) and that
    post-processing reproduces the stored states up to the float32 rounding of a prediction.
    """
    config, ep = episode
    proc = processor_for(config)
    calls, size = ep["sample_target_calls"], config["search_size"]
    for i, step in enumerate(ep["states"]):
        assert calls[i + 1]["box_in"] == step["prev_state"]
        if i + 2 < len(calls):
            assert calls[i + 2]["box_in"] == step["state"]
        rz, (px, py, pw, ph), (x, y, w, h) = calls[i + 1]["resize_factor"], step["prev_state"], step["state"]
        half = 0.5 * size / rz
        pred = np.array([x + w / 2 - (px + pw / 2 - half), y + h / 2 - (py + ph / 2 - half), w, h]) * rz / size
        frame_hw = ep["frames"][i + 1].shape[:2]
        pred = torch.tensor(pred[None], dtype=torch.float32)
        out = proc.post_process_box_predictions(pred, [step["prev_state"]], [rz], frame_hw)
        np.testing.assert_allclose(out[0].numpy(), step["state"], rtol=0, atol=5e-5)


# --------------------------------------------------------------------------------------------- input handling
def test_input_types_agree(frame):
    proc = SimTrackImageProcessor(template_size=32, search_size=64)
    box = [20.5, 15.0, 18.0, 12.0]
    reference = proc(frame, box, crop="search")
    variants = [
        Image.fromarray(frame),
        torch.from_numpy(frame),  # HWC uint8
        torch.from_numpy(frame).permute(2, 0, 1),  # CHW uint8
        frame.transpose(2, 0, 1),  # CHW numpy
        np.dstack([frame, np.full(frame.shape[:2], 7, np.uint8)]),  # RGBA: alpha dropped
        Image.fromarray(frame).convert("RGBA"),
        [frame],
        frame[None],  # (1, H, W, 3) batch
        np.ascontiguousarray(frame[..., ::-1])[..., ::-1],  # negative-stride view
    ]
    for image in variants:
        out = proc(image, box, crop="search")
        torch.testing.assert_close(out["search_pixel_values"], reference["search_pixel_values"], rtol=0, atol=0)
    as_np = proc(frame, box, crop="template", return_tensors="np")
    assert isinstance(as_np["template_pixel_values"], np.ndarray) and as_np["template_boxes"].shape == (1, 4)


def test_grayscale_is_repeated(frame):
    proc = SimTrackImageProcessor(template_size=32, search_size=64)
    gray = frame[..., 0]
    expected = proc(np.repeat(gray[..., None], 3, axis=-1), [10, 10, 20, 20], crop="template")["template_pixel_values"]
    for image in (gray, gray[..., None], Image.fromarray(gray), torch.from_numpy(gray)):
        torch.testing.assert_close(proc(image, [10, 10, 20, 20], crop="template")["template_pixel_values"], expected)


def test_batched_equals_single(frame):
    proc = SimTrackImageProcessor(template_size=32, search_size=64)
    other = np.ascontiguousarray(frame[::-1])
    boxes = np.array([[20.5, 15.0, 18.0, 12.0], [0.0, 0.0, 10.0, 30.0], [70.0, 50.0, 9.0, 9.0]])
    shared = proc(frame, boxes, crop="template")  # one frame, three targets
    per_image = proc([frame, other, frame], boxes, crop="search")  # one frame per box
    assert shared["template_pixel_values"].shape == (3, 3, 32, 32) and shared["template_boxes"].shape == (3, 4)
    assert per_image["search_pixel_values"].shape == (3, 3, 64, 64) and per_image["resize_factors"].shape == (3,)
    for i, image in enumerate([frame, other, frame]):
        single_t = proc(frame, boxes[i], crop="template")
        single_s = proc(image, torch.tensor(boxes[i]), crop="search")
        for key in ("template_pixel_values", "template_boxes"):
            torch.testing.assert_close(shared[key][i : i + 1], single_t[key], rtol=0, atol=0)
        for key in ("search_pixel_values", "resize_factors", "image_sizes"):
            torch.testing.assert_close(per_image[key][i : i + 1], single_s[key], rtol=0, atol=0)


def test_save_load_round_trip(tmp_path):
    proc = SimTrackImageProcessor(template_size=128, search_size=320, template_factor=2.0, search_factor=5.0)
    proc.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["search_size"] == 320 and saved["image_processor_type"] == "SimTrackImageProcessor"
    loaded = SimTrackImageProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == proc.to_dict()
    assert (loaded.template_size, loaded.search_factor, loaded.image_mean) == (128, 5.0, [0.485, 0.456, 0.406])
    assert SimTrackImageProcessor.from_pretrained(tmp_path, search_size=256).search_size == 256


# --------------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "image, boxes, match",
    [
        ("frame", [10, 10, float("nan"), 5], "Box 0 .* NaN or inf"),
        ("frame", [[10, 10, 5, 5], [10, float("inf"), 5, 5]], "Box 1 .* NaN or inf"),
        ("frame", [10, 10, 0, 5], "positive width and height"),
        ("frame", [10, 10, 5, -3], "positive width and height"),
        ("frame", [80, 10, 5, 5], "fully outside"),
        ("frame", [-20, 10, 20, 5], "fully outside"),
        ("frame", [10, 10, 5], r"shape \(4,\) or \(N, 4\)"),
        ("frame", [["a", 1, 2, 3]], "Boxes must be"),
        ("two_frames", [[10, 10, 5, 5]] * 3, "2 images and 3 boxes"),
        ("uint16", [10, 10, 5, 5], "uint16 .* 257"),
        ("float", [10, 10, 5, 5], "float32.*round"),
        ("float_tensor", [10, 10, 5, 5], "float32.*round"),
        ("two_channels", [10, 10, 5, 5], r"\(H, W, 3\)"),
        ("pil_i16", [10, 10, 5, 5], "not 8-bit"),
        ("a string", [10, 10, 5, 5], "Unsupported image type str"),
        ([], [10, 10, 5, 5], "No images"),
    ],
)
def test_bad_inputs_raise(frame, image, boxes, match):
    images = {
        "frame": frame,
        "two_frames": [frame, frame],
        "uint16": frame.astype(np.uint16) * 257,
        "float": frame.astype(np.float32) / 255,
        "float_tensor": torch.from_numpy(frame).permute(2, 0, 1).float() / 255,
        "two_channels": frame[..., :2],
        "pil_i16": Image.fromarray(frame[..., 0].astype(np.uint16) * 257),
    }.get(image, image) if isinstance(image, str) else image
    proc = SimTrackImageProcessor()
    with pytest.raises(ValueError, match=match):
        proc(images, boxes, crop="search")


def test_bad_arguments_raise(frame):
    proc = SimTrackImageProcessor()
    with pytest.raises(ValueError, match='"template" or "search"'):
        proc(frame, [10, 10, 5, 5], crop="search_region")
    with pytest.raises(ValueError, match="return_tensors"):
        proc(frame, [10, 10, 5, 5], crop="search", return_tensors="tf")
    with pytest.raises(ValueError, match="factor"):
        proc.crop_around_boxes(frame, [10, 10, 5, 5], factor=0.0, output_size=32)
    with pytest.raises(ValueError, match="output_size"):
        proc.crop_around_boxes(frame, [10, 10, 5, 5], factor=2.0, output_size=0)
    with pytest.raises(ValueError, match="at least 1 pixel"):  # sub-pixel: refused like zero size
        proc(frame, [10, 40, 1e-9, 1e-9], crop="template")
    # a thin box that overlaps the image while its square crop does not
    with pytest.raises(ValueError, match="does not overlap"):
        proc.crop_around_boxes(frame, [-300, 10, 302, 1], factor=1.0, output_size=32)
    with pytest.raises(ValueError, match="pred_boxes"):
        proc.post_process_box_predictions(torch.zeros(2, 4), [[0, 0, 10, 10]], [1.0], [60, 80])
    with pytest.raises(ValueError, match="image sizes"):
        proc.post_process_box_predictions(torch.zeros(2, 4), [[0, 0, 10, 10]] * 2, [1.0, 1.0], [[60, 80]] * 3)
