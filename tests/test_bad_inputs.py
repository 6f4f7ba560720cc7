"""What every bad input gets: a specification, one row per input.

Each row names an input a user may give (boxes, frames, videos, folders, weights, configs, command-line flags,
evaluation files, training data), the exception the library raises and the words its one-line message must hold.
Command-line rows run `simtrack` in-process and expect exit code 2 with one `simtrack <command>: error: ...` line.
Below the table: the behaviour around faults (streamed results, stale caches, atomic rendering, the CLI's
traceback switch).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest
import torch
from conftest import fixture_config, tiny_config
from load_fixture import load_fixture

from PIL import Image
from safetensors.torch import load_file, save_file

from simtrack_hf import SimTrackImageProcessor, SimTrackModel, SimTrackTracker, TrackingOptions
from simtrack_hf.app.core import MODEL_SOURCES, AppError, ModelCache, parse_boxes, probe_video
from simtrack_hf.commands import main
from simtrack_hf.data.benchmarks import read_benchmark
from simtrack_hf.data.manifests import parse_sources
from simtrack_hf.data.rendering import ensure_synthetic_benchmark
from simtrack_hf.evaluation.metrics import aggregate_results, evaluate_sequence
from simtrack_hf.evaluation.results import find_result_file
from simtrack_hf.evaluation.scoring import TrackerEvaluation
from simtrack_hf.image_processing_simtrack import to_rgb_uint8
from simtrack_hf.inference.onnx_runtime import OnnxSimTrackRunner
from simtrack_hf.io.boxes import read_results
from simtrack_hf.io.encoding import BrowserVideoWriter
from simtrack_hf.io.frames import VideoReader
from simtrack_hf.loading import load_config, load_model, load_pretrained
from simtrack_hf.tools.export import export_onnx

FRAME = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)


def _save_model(folder: Path, seed: int = 0, **overrides: Any) -> None:
    torch.manual_seed(seed)
    model = SimTrackModel(tiny_config(**overrides))
    model.save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(folder)


def _with_config_of(weights: Path, config: Path, out: Path) -> None:
    out.mkdir()
    shutil.copy(weights / "model.safetensors", out)
    shutil.copy(config / "config.json", out)


def _edited_copy(model: Path, out: Path, file: str, **changes: Any) -> None:
    """A copy of the model folder whose `file` (config.json, preprocessor_config.json) has `changes`."""
    shutil.copytree(model, out)
    values = json.loads((out / file).read_text())
    (out / file).write_text(json.dumps({**values, **changes}))


def _write_frames(folder: Path, count: int, corrupt: int | None = None) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        path = folder / f"{i + 1:08d}.jpg"
        if i == corrupt:
            path.write_bytes(b"not a jpeg")
        else:
            cv2.imwrite(str(path), np.roll(FRAME, 2 * i, axis=1))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Files the rows read: a tiny model, broken copies of it, frame folders, checkpoints, datasets."""
    root = tmp_path_factory.mktemp("bad_inputs")
    _save_model(root / "model")
    _save_model(root / "retrained", seed=1)  # same config, other weights
    _save_model(root / "deep", num_hidden_layers=3)
    _save_model(root / "shallow", num_hidden_layers=1)
    _save_model(root / "wide", intermediate_size=96)
    _with_config_of(root / "deep", root / "model", root / "deep_in_shallow")
    _with_config_of(root / "shallow", root / "model", root / "shallow_in_deep")
    _with_config_of(root / "wide", root / "model", root / "wide_in_narrow")
    _edited_copy(root / "model", root / "other_factor", "preprocessor_config.json", search_factor=5.0)
    _edited_copy(root / "model", root / "mean_of_one", "preprocessor_config.json", image_mean=[0.5])
    _edited_copy(root / "model", root / "threshold_text", "config.json", tracking_options={"lost_threshold": "0.3"})
    _edited_copy(root / "model", root / "options_list", "config.json", tracking_options=[0.3, 1.1])
    _edited_copy(root / "model", root / "width_1e9", "config.json", hidden_size=10**9, num_attention_heads=1)
    shutil.copytree(root / "model", root / "int32")
    weights = root / "int32" / "model.safetensors"
    save_file({k: (v * 100).to(torch.int32) for k, v in load_file(weights).items()}, weights)
    original = load_fixture("tiny_b16")["state_dict"]
    torch.save({"net": {k: v.to(torch.int32) for k, v in original.items()}}, root / "int_original.pth")
    (root / "truncated").mkdir()
    shutil.copy(root / "model" / "config.json", root / "truncated")
    (root / "truncated" / "model.safetensors").write_bytes((root / "model" / "model.safetensors").read_bytes()[:200])
    (root / "no_config").mkdir()
    shutil.copy(root / "model" / "model.safetensors", root / "no_config")
    (root / "notes.txt").write_text("these are my notes, not weights\n")
    torch.save({"net": {"backbone.visual.conv1.weight": torch.zeros(1)}}, root / "half.pth")
    (root / "half.pth").write_bytes((root / "half.pth").read_bytes()[:60])
    torch.save({"args": argparse.Namespace(lr=1)}, root / "objects.pth")
    torch.save({"unknown.weight": torch.zeros(1)}, root / "foreign.pth")
    (root / "empty_folder").mkdir()
    export_onnx(SimTrackModel(tiny_config()).eval(), root / "onnx")
    data = root / "onnx" / "model.onnx.data"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    _write_frames(root / "frames", 3)
    with BrowserVideoWriter(root / "clip.mp4", fps=10) as writer:
        writer.write(FRAME)
    _write_frames(root / "twins", 2)
    cv2.imwrite(str(root / "twins" / "00000001.png"), FRAME)
    _write_frames(root / "corrupt_frames", 3, corrupt=1)
    (root / "video.mp4").write_text("not a video")
    (root / "a_file").write_text("x")
    (root / "results").mkdir()
    (root / "results" / "nan.txt").write_text("1,2,3,4\nnan,2,3,4\n")
    (root / "results" / "three_columns.txt").write_text("1,2,3\n")
    (root / "results" / "short.txt").write_text("1,2,3,4\n")
    bad = root / "bad_got10k" / "train" / "seq1"
    bad.mkdir(parents=True)
    (bad / "groundtruth.txt").write_text("1,2,3,4\n")  # a sequence without frames
    lasot = root / "lasot" / "cat" / "cat-1"
    _write_frames(lasot / "img", 2)
    (lasot / "groundtruth.txt").write_text("1,2,30,30\n")  # 1 box for 2 frames
    foreign = root / "foreign_synthetic" / "train"
    foreign.mkdir(parents=True)
    (foreign / "my_notes.txt").write_text("keep me")
    short = root / "lasot_short" / "dog" / "dog-1"
    _write_frames(short / "img", 1)
    (short / "groundtruth.txt").write_text("1,2,30,30\n")  # one frame: only the given box
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 64))
    for i in range(6):
        writer.write(np.roll(FRAME, 2 * i, axis=1))
    writer.release()
    os.link(root / "clip.avi", root / "clip_link.avi")  # the same file under another name
    os.mkfifo(root / "pipe")  # a named pipe nobody writes to
    return root


INPUTS = ("clip.avi", "frames", "model", "half.pth")
"""What the output rows name as inputs: each must be byte for byte as it was after them."""


def digest(world: Path) -> dict[str, bytes]:
    files = [p for name in INPUTS for p in sorted([world / name, *(world / name).rglob("*")]) if p.is_file()]
    return {str(p): p.read_bytes() for p in files}


def tracker_of(world: Path) -> SimTrackTracker:
    return SimTrackTracker.from_pretrained(world / "model")


def tracked(world: Path) -> SimTrackTracker:
    tracker = tracker_of(world)
    tracker.init(FRAME, [20, 20, 16, 16])
    return tracker


def nan_tracker(world: Path) -> SimTrackTracker:
    tracker = tracked(world)
    with torch.no_grad():
        tracker.model.bottleneck.weight.fill_(float("nan"))
    return tracker


def preprocess(boxes: Any, image: Any = FRAME) -> Any:
    return SimTrackImageProcessor().preprocess(image, boxes, crop="template")


def frames_of(source: Any) -> list:
    with VideoReader(source) as reader:
        return list(reader)


def model_dir(world: Path, name: str) -> str:
    return str(world.root / name)


@dataclass
class Row:
    """An input, what it must raise (None: it must work), and words its message must hold (a regex; for an input
    that must work: words of what it returns, prints or logs)."""

    input: str
    run: Callable[[Path], Any]
    error: type[BaseException] | None
    message: str


def cli(*argv: str) -> Callable[[Path], Any]:
    """A command line (``{root}`` is the world folder); the row expects exit code 2 and its message."""
    return lambda world: main([a.replace("{root}", str(world)) for a in argv])


def evaluate_twice(first: tuple[str, ...], *second: str) -> Callable[[Path], Any]:
    """Evaluate the tiny model on a generated 2-clip benchmark into a new results folder with the `first` options
    added, then run the row's command there (the same with the `second` options added)."""
    def run(world: Path) -> Any:
        out = tempfile.mkdtemp(dir=world, prefix="evaluated_")
        command = ["evaluate", "--dataset-format", "synthetic", "--root", str(world / "bench"), "--model",
                   str(world / "model"), "--synthetic-sequences", "2", "--synthetic-frames", "3", "--results-dir", out,
                   "--no-progress"]
        main([*command, *first])
        return main([*command, *(a.replace("{root}", str(world)) for a in second)])

    return run


def hold_lock(world: Path, kill: bool) -> Any:
    """Evaluate while another process holds the results folder's lock (``kill``: after it was killed by -9)."""
    out = Path(tempfile.mkdtemp(dir=world, prefix="locked_"))
    (out / "simtrack").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True); time.sleep(600)",
                               str(out / "simtrack" / ".lock")], stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()  # it holds the lock
        if kill:
            holder.kill()
            holder.wait()
        return main(["evaluate", "--dataset-format", "synthetic", "--root", str(world / "bench"), "--model",
                     str(world / "model"), "--synthetic-sequences", "2", "--synthetic-frames", "3", "--results-dir",
                     str(out), "--no-progress"])
    finally:
        holder.kill()
        holder.wait()


CLI = SystemExit  # command-line rows: exit code 2 and one `simtrack <command>: error:` line

ROWS = [
    # ------------------------------------------------------------------ boxes
    Row("box of booleans [True]*4", lambda w: preprocess([True] * 4), ValueError, "booleans"),
    Row("box as a bool tensor", lambda w: preprocess(torch.ones(4, dtype=torch.bool)), ValueError, "booleans"),
    Row("box with zero width", lambda w: preprocess([10, 10, 0, 5]), ValueError, "positive width and height"),
    Row("box with negative height", lambda w: preprocess([10, 10, 5, -5]), ValueError, "positive width and height"),
    Row("box with NaN", lambda w: preprocess([np.nan, 10, 5, 5]), ValueError, "NaN or inf"),
    Row("box with inf", lambda w: preprocess([10, 10, np.inf, 5]), ValueError, "NaN or inf"),
    Row("box at +1e30", lambda w: preprocess([1e30, 1e30, 10, 10]), ValueError, "fully outside"),
    Row("box of -1e30..+1e30", lambda w: preprocess([-1e30, -1e30, 2e30, 2e30]), ValueError, "over 8x the 80x64"),
    Row("box of 3 numbers", lambda w: preprocess([10, 10, 20]), ValueError, r"shape \(4,\) or \(N, 4\)"),
    Row("ragged boxes", lambda w: preprocess([[10, 10, 20, 20], [1, 2, 3]]), ValueError, "must be numbers"),
    Row("box as a string", lambda w: preprocess("10,10,20,20"), ValueError, "must be numbers"),
    Row("no boxes []", lambda w: preprocess([]), ValueError, r"shape \(4,\) or \(N, 4\)"),
    Row("box outside the image", lambda w: preprocess([500, 500, 10, 10]), ValueError, "fully outside the 80x64"),
    Row("2 images for 3 boxes", lambda w: preprocess([[1, 1, 9, 9]] * 3, [FRAME, FRAME]), ValueError,
        "2 images and 3 boxes"),
    Row("tracker box of booleans", lambda w: tracker_of(w).init(FRAME, [True] * 4), ValueError, "booleans"),
    # ------------------------------------------------------------------ frames
    Row("float image", lambda w: to_rgb_uint8(FRAME / 255.0), ValueError, "dtype float64 is not supported"),
    Row("uint16 image", lambda w: to_rgb_uint8(FRAME.astype(np.uint16)), ValueError, "uint16"),
    Row("bool image", lambda w: to_rgb_uint8(FRAME > 0), ValueError, "dtype bool"),
    Row("(3, 240, 4) tensor: CHW or RGBA?", lambda w: to_rgb_uint8(torch.zeros(3, 240, 4, dtype=torch.uint8)),
        ValueError, "Ambiguous image shape"),
    Row("(1, 64, 4) array: CHW or RGBA?", lambda w: to_rgb_uint8(np.zeros((1, 64, 4), np.uint8)), ValueError,
        "Ambiguous image shape"),
    Row("1x1 image", lambda w: to_rgb_uint8(np.zeros((1, 1, 3), np.uint8)), ValueError, "too small"),
    Row("5-channel image", lambda w: to_rgb_uint8(np.zeros((8, 8, 5), np.uint8)), ValueError, r"\(H, W, 3\)"),
    Row("a string as a frame", lambda w: to_rgb_uint8("frame.jpg"), ValueError, "Unsupported image type str"),
    Row("16-bit PIL image", lambda w: to_rgb_uint8(Image.new("I;16", (8, 8))), ValueError,
        "not 8-bit"),
    Row("track before init", lambda w: tracker_of(w).track(FRAME), RuntimeError, "call init"),
    Row("frame of another size", lambda w: tracked(w).track(FRAME[:32]), ValueError, "differs from the first"),
    Row("NaN model output (NaN weights)", lambda w: nan_tracker(w).track(FRAME), ValueError,
        "model output pred_boxes contains NaN"),
    # ------------------------------------------------------------------ videos and folders
    Row("missing video path", lambda w: VideoReader(w / "nope.mp4"), FileNotFoundError, "not found"),
    Row("empty folder", lambda w: VideoReader((w / "empty_folder")), ValueError, "no images"),
    Row("folder with 1.jpg and 1.png", lambda w: VideoReader((w / "twins")), ValueError, "holds both 00000001"),
    Row("corrupt frame in a folder", lambda w: frames_of((w / "corrupt_frames")), ValueError, "could not read image file"),
    Row("text file as a video", lambda w: VideoReader((w / "video.mp4")), ValueError, "video file"),
    Row("empty frame list", lambda w: VideoReader([]), ValueError, "empty"),
    Row("3-D array as a video", lambda w: VideoReader(FRAME), ValueError, "4-D"),
    Row("bool as a source", lambda w: VideoReader(True), TypeError, "bool"),
    Row("float as a source", lambda w: VideoReader(2.5), TypeError, "unsupported frame source float"),
    Row("frames of two sizes", lambda w: frames_of([FRAME, FRAME[:32]]), ValueError, "frame 1 has size"),
    # ------------------------------------------------------------------ weights
    Row("deeper checkpoint, shallower config", lambda w: load_pretrained((w / "deep_in_shallow")), ValueError,
        r"unexpected_keys \(16\)"),
    Row("shallower checkpoint, deeper config", lambda w: load_pretrained((w / "shallow_in_deep")), ValueError,
        r"missing_keys \(16\)"),
    Row("other sizes, same names", lambda w: load_pretrained((w / "wide_in_narrow")), ValueError, "mismatched_keys"),
    Row("truncated model.safetensors", lambda w: load_pretrained((w / "truncated")), ValueError,
        r"truncated[/\\]model.safetensors is not readable safetensors"),
    Row("int32 model.safetensors", lambda w: load_pretrained(w / "int32"), ValueError,
        r"model.safetensors holds I32 tensors where the model has torch.float32 ones \(97 of 105"),
    Row("original checkpoint of int32 tensors", lambda w: load_model(w / "int_original.pth",
                                                                      fixture_config("tiny_b16"), kind="original"),
        ValueError, r"int_original.pth holds torch.int32 tensors where the model has torch.float32 ones"),
    Row("weights without config.json", lambda w: load_pretrained((w / "no_config")), ValueError, "has no config.json"),
    Row("nonexistent local folder", lambda w: load_pretrained(w / "missing" / "model"), FileNotFoundError,
        "model folder not found"),
    Row("relative path that is not there", lambda w: load_pretrained("./not-here"), FileNotFoundError,
        "model folder not found: ./not-here"),
    Row("Hub id while offline", lambda w: load_pretrained("simtrack-test-org/no-such-model"), OSError,
        "could not load 'simtrack-test-org/no-such-model' from the Hugging Face Hub"),
    Row("text file as a checkpoint", lambda w: load_model((w / "notes.txt"), tiny_config(), kind="original"), ValueError,
        "notes.txt is not a readable checkpoint of tensors"),
    Row("truncated .pth", lambda w: load_model((w / "half.pth"), tiny_config(), kind="original"), ValueError,
        "half.pth is not a readable checkpoint"),
    Row(".pth holding objects", lambda w: load_model((w / "objects.pth"), tiny_config(), kind="original"), ValueError,
        "holding objects other than tensors"),
    Row("checkpoint of another network", lambda w: load_model((w / "foreign.pth"), tiny_config(), kind="original"),
        ValueError, r"unexpected keys in the original checkpoint \(1\)"),
    Row("missing checkpoint file", lambda w: load_model(w / "none.pth", tiny_config(), kind="original"),
        FileNotFoundError, "checkpoint file not found"),
    Row("truncated model.onnx.data", lambda w: OnnxSimTrackRunner(w / "onnx"), ValueError,
        "ONNX Runtime cannot load .*model.onnx .*truncated or missing model.onnx.data.*out of bounds"),
    Row("folder that is no model", lambda w: load_model((w / "empty_folder")), ValueError, "neither a checkpoint file"),
    # ------------------------------------------------------------------ configs
    Row("num_hidden_layers=0", lambda w: tiny_config(num_hidden_layers=0), ValueError,
        "SimTrackConfig.num_hidden_layers must be a positive integer, got 0"),
    Row("num_hidden_layers=-1", lambda w: tiny_config(num_hidden_layers=-1), ValueError, "num_hidden_layers"),
    Row("intermediate_size=0", lambda w: tiny_config(intermediate_size=0), ValueError, "intermediate_size"),
    Row("patch_size=0", lambda w: tiny_config(patch_size=0), ValueError, "patch_size must be a positive integer"),
    Row("hidden_size=0", lambda w: tiny_config(hidden_size=0), ValueError, "hidden_size must be a positive"),
    Row("hidden_size as a string", lambda w: tiny_config(hidden_size="32"), ValueError, "hidden_size .* got '32'"),
    Row("template_size=-64", lambda w: tiny_config(template_size=-64), ValueError, "template_size"),
    Row("search_factor=0", lambda w: tiny_config(search_factor=0), ValueError, "search_factor must be > 0"),
    Row("template_factor=NaN", lambda w: tiny_config(template_factor=float("nan")), ValueError,
        "template_factor must be a finite number"),
    Row("layer_norm_eps=-1", lambda w: tiny_config(layer_norm_eps=-1), ValueError, "layer_norm_eps must be > 0"),
    Row("attention_dropout=1", lambda w: tiny_config(attention_dropout=1.0), ValueError, "attention_dropout"),
    Row("hidden_act of no activation", lambda w: tiny_config(hidden_act="nope"), ValueError, "hidden_act 'nope'"),
    Row("hidden_size not divisible by heads", lambda w: tiny_config(num_attention_heads=3), ValueError,
        "not divisible by num_attention_heads=3"),
    Row("search_size not a multiple of patch", lambda w: tiny_config(search_size=120), ValueError,
        "search_size=120 is not a multiple of patch_size=16"),
    Row("hidden_size=1e9", lambda w: tiny_config(hidden_size=10**9, num_attention_heads=1), ValueError,
        r"hidden_size=1000000000 is beyond any real model \(at most 16384\)"),
    Row("a config bigger than this machine's memory", lambda w: tiny_config(
        hidden_size=16384, intermediate_size=65536, num_hidden_layers=256, num_attention_heads=128), ValueError,
        r"needs at least 3072.0 GiB for its encoder weights .*this machine has"),
    Row("tracking_options of a list", lambda w: tiny_config(tracking_options=[0.3]), ValueError,
        "tracking_options must be a JSON object"),
    Row("tracking option lost_threshold as a string", lambda w: TrackingOptions(lost_threshold="0.3"), ValueError,
        "lost_threshold must be a number or null, got '0.3'"),
    Row("tracking option hold_lost_boxes as 1", lambda w: TrackingOptions(lost_threshold=0.3, hold_lost_boxes=1),
        ValueError, "hold_lost_boxes must be true or false"),
    Row("tracking option template_update_interval 2.5", lambda w: TrackingOptions(template_update_interval=2.5),
        ValueError, "template_update_interval must be an integer"),
    Row("processor image_mean of one value", lambda w: SimTrackImageProcessor(image_mean=[0.5]), ValueError,
        r"image_mean must be 3 finite numbers"),
    Row("processor image_std with a zero", lambda w: SimTrackImageProcessor(image_std=[0.2, 0, 0.2]), ValueError,
        r"image_std must be 3 finite numbers \(R, G, B, each > 0\)"),
    Row("processor search_factor=0", lambda w: SimTrackImageProcessor(search_factor=0), ValueError,
        "search_factor must be a finite number > 0"),
    Row("processor template_size 112.5", lambda w: SimTrackImageProcessor(template_size=112.5), ValueError,
        "template_size must be a positive integer"),
    Row("processor factor other than the model's", lambda w: SimTrackTracker.from_pretrained(w / "other_factor"),
        ValueError, r"processor search_factor=5.0 does not match the model's 4.0"),
    Row("config.json with num_hidden_layers 0", lambda w: load_config("tiny", '{"num_hidden_layers": 0}'),
        ValueError, "num_hidden_layers"),
    Row("unknown variant", lambda w: load_config("sim-b99"), ValueError, "sim-b99"),
    Row("inline JSON that is not JSON", lambda w: load_config("tiny", "{num_hidden_layers: 2"), ValueError,
        "Expecting property name"),
    # ------------------------------------------------------------------ command-line flags
    Row("track --attention-every 0", cli("track", "{root}/frames", "--box", "1,1,9,9", "--attention-every", "0"),
        CLI, "argument --attention-every: expected a positive integer, got '0'"),
    Row("track --attention-every -3", cli("track", "{root}/frames", "--box", "1,1,9,9", "--attention-every", "-3"),
        CLI, "expected a positive integer, got '-3'"),
    Row("track --box 1,2,3", cli("track", "{root}/frames", "--box", "1,2,3"), CLI, "expected X,Y,W,H"),
    Row("track --device cuda without CUDA", cli("track", "{root}/frames", "--box", "1,1,9,9", "--device", "cuda"),
        CLI, "no CUDA device"),
    Row("evaluate --device cuda without CUDA", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot",
                                                   "--device", "cuda"), CLI, "no CUDA device"),
    Row("benchmark --device cuda without CUDA", cli("benchmark", "--device", "cuda"), CLI, "no CUDA device"),
    Row("track --device toaster", cli("track", "{root}/frames", "--box", "1,1,9,9", "--device", "toaster"), CLI,
        "unknown device 'toaster'"),
    Row("track --results under a file", cli("track", "{root}/frames", "--box", "1,1,9,9", "--model",
                                            "{root}/model", "--results", "{root}/a_file/boxes.txt"),
        CLI, "cannot write .*a_file/boxes.txt"),
    Row("track --model of a missing folder", cli("track", "{root}/frames", "--box", "1,1,9,9", "--model",
                                                 "{root}/missing"), CLI, "model folder not found"),
    Row("track --model of a truncated file", cli("track", "{root}/frames", "--box", "1,1,9,9", "--model",
                                                 "{root}/truncated"), CLI, "is not readable safetensors"),
    Row("track --model of a truncated ONNX export", cli("track", "{root}/frames", "--box", "1,1,9,9", "--model",
                                                        "{root}/onnx"), CLI, "ONNX Runtime cannot load"),
    Row("track --model whose processor has another factor", cli(
        "track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/other_factor"), CLI,
        "processor search_factor=5.0 does not match the model's 4.0"),
    Row("track --model with a one-value image_mean", cli(
        "track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/mean_of_one"), CLI,
        "image_mean must be 3 finite numbers"),
    Row("track --model with a string lost_threshold", cli(
        "track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/threshold_text"), CLI,
        "tracking option lost_threshold must be a number or null"),
    Row("track --model with tracking_options a list", cli(
        "track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/options_list"), CLI,
        "tracking_options must be a JSON object"),
    Row("track --model with hidden_size 1e9", cli(
        "track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/width_1e9"), CLI,
        "hidden_size=1000000000 is beyond any real model"),
    Row("track --model of int32 weights", cli("track", "{root}/frames", "--box", "1,1,9,9", "--model", "{root}/int32"),
        CLI, "holds I32 tensors where the model has torch.float32 ones"),
    Row("track a box outside the video", cli("track", "{root}/frames", "--box", "500,500,9,9", "--model",
                                             "{root}/model"), CLI, "frame 0: Box 0 .* fully outside"),
    Row("evaluate --name ../../x", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot", "--name",
                                       "../../x"), CLI, "expected a plain folder name"),
    Row("evaluate --name a/b", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot", "--name",
                                   "a/b"), CLI, "plain folder name"),
    Row("evaluate --max-sequences 0", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot",
                                          "--max-sequences", "0"), CLI, "--max-sequences must be >= 1"),
    Row("evaluate a missing benchmark", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/none"),
        CLI, "not found"),
    Row("evaluate a box/frame count mismatch", cli("evaluate", "--dataset-format", "lasot", "--root",
                                                   "{root}/lasot", "--no-model", "--baseline", "static"),
        CLI, "1 boxes but 2 frames"),
    Row("train --data got10k:/nonexistent", cli("train", "--data", "got10k:{root}/nonexistent", "--output_dir",
                                                "{root}/run", "--use_cpu", "true", "--report_to", "none",
                                                "--variant", "tiny"),
        CLI, "does not exist"),
    Row("train --data without --init_from (random Sim-B/16)",
        cli("train", "--data", "got10k:{root}/bad_got10k", "--output_dir", "{root}/run", "--use_cpu", "true"),
        CLI, "sim-b16 without --init_from would start from random weights"),
    Row("train --data of an all-bad dataset", cli("train", "--data", "got10k:{root}/bad_got10k", "--output_dir",
                                                  "{root}/run", "--use_cpu", "true", "--report_to", "none",
                                                  "--manifest_cache_dir", "{root}/cache", "--variant", "tiny"),
        CLI, r"got10k: no usable sequence \(missing_frames=1\)"),
    Row("train --resume_from_checkpoint last, none there", cli(
        "train", "--output_dir", "{root}/empty_folder", "--resume_from_checkpoint", "last", "--use_cpu", "true",
        "--report_to", "none"), CLI, "no complete checkpoint in"),
    Row("train --synthetic_dir of someone's folder", cli(
        "train", "--synthetic_dir", "{root}/foreign_synthetic", "--output_dir", "{root}/run", "--variant", "tiny",
        "--use_cpu", "true", "--report_to", "none"), CLI, "was not rendered by simtrack_hf"),
    Row("train --data '' (an unset variable)", cli("train", "--data", "", "--output_dir", "{root}/run", "--use_cpu",
                                                  "true", "--report_to", "none"), CLI, "--data is empty"),
    Row("train --max_gap -1", cli("train", "--max_gap", "-1", "--output_dir", "{root}/run", "--use_cpu", "true",
                                  "--report_to", "none"), CLI, "--max_gap must be a positive integer, got -1"),
    Row("train --samples_per_epoch 0", cli("train", "--samples_per_epoch", "0", "--output_dir", "{root}/run",
                                           "--use_cpu", "true", "--report_to", "none"), CLI,
        "--samples_per_epoch must be a positive integer, got 0"),
    Row("train --synthetic_sequences 0", cli("train", "--synthetic_sequences", "0", "--output_dir", "{root}/run",
                                             "--use_cpu", "true", "--report_to", "none"), CLI,
        "--synthetic_sequences must be a positive integer"),
    Row("train resuming a checkpoint of another config", cli(
        "train", "--variant", "small", "--resume_from_checkpoint", "{root}/model", "--output_dir", "{root}/run",
        "--use_cpu", "true", "--report_to", "none"), CLI,
        r"model is a checkpoint of another config \(head_channels 16 there, 64 here"),
    Row("convert a text file", cli("convert", "--checkpoint", "{root}/notes.txt", "--variant", "sim-b16", "--output",
                                   "{root}/converted"), CLI, "not a readable checkpoint of tensors"),
    Row("app --max-frames 0", cli("app", "--max-frames", "0"), CLI, "expected a positive integer, got '0'"),
    Row("app --model-root of a file", cli("app", "--model-root", "{root}/a_file"), CLI,
        "model-root is not a folder: .*a_file"),
    # ------------------------------------------------------------------ the web app (a server)
    Row("app: box row with a fifth cell", lambda w: parse_boxes([[1, 1, 9, 9, 5]], 80, 64), AppError,
        "a box is four numbers x, y, w, h, got 5"),
    Row("app: frames over the pixel limit", lambda w: probe_video(w / "clip.mp4", max_pixels=4000), AppError,
        "clip.mp4 is 80x64: this server tracks frames of at most 4000 pixels"),
    Row("app: a model folder outside the model root", lambda w: ModelCache(model_root=w / "empty_folder").resolve(
        MODEL_SOURCES[1], str(w / "model")), AppError, "is not under the server's model root"),
    Row("app: a model folder without --model-root", lambda w: ModelCache().resolve(MODEL_SOURCES[1], str(w / "model")),
        AppError, "this server offers no model folders"),
    Row("app: a Hub id without --allow-hub", lambda w: ModelCache().resolve(MODEL_SOURCES[2], "org/name"), AppError,
        "this server loads no Hub models"),
    # ------------------------------------------------------------------ evaluation files
    Row("results line with NaN", lambda w: read_results(w / "results" / "nan.txt"), ValueError, "line 2"),
    Row("results line of 3 numbers", lambda w: read_results(w / "results" / "three_columns.txt"), ValueError,
        "three_columns.txt"),
    Row("results of the wrong length", lambda w: read_results(w / "results" / "short.txt", num_frames=3),
        ValueError, "1 boxes, expected 3"),
    Row("no results for a sequence", lambda w: find_result_file(w / "results", "cat-1"), ValueError,
        "no results for sequence 'cat-1'"),
    Row("benchmark with fewer boxes than frames", lambda w: read_benchmark("lasot", (w / "lasot")), ValueError,
        "1 boxes but 2 frames"),
    # ------------------------------------------------------------------ training data
    Row("data spec without a path", lambda w: parse_sources("got10k"), ValueError, "expected KIND:PATH"),
    Row("data spec of an unknown kind", lambda w: parse_sources("imagenet:/x"), ValueError, "imagenet"),
    Row("data spec with ratio 0", lambda w: parse_sources("got10k:/x:0"), ValueError, "ratio must be positive"),
    Row("train --data with a split LaSOT lacks", cli(
        "train", "--data", "lasot:{root}/lasot:test", "--output_dir", "{root}/run", "--variant", "tiny",
        "--use_cpu", "true", "--report_to", "none"), CLI, r"lasot has no split 'test' \(choices: train\)"),
    Row("train --data with an unknown kind", cli(
        "train", "--data", "lasott:{root}/lasot", "--output_dir", "{root}/run", "--variant", "tiny",
        "--use_cpu", "true", "--report_to", "none"), CLI, "unknown dataset kind 'lasott'; choices: coco, folder"),
    Row("train --data split indices beyond the folder", cli(
        "train", "--data", "got10k:{root}/lasot:vottrain", "--output_dir", "{root}/run", "--variant", "tiny",
        "--use_cpu", "true", "--report_to", "none"), CLI, r"split vottrain indexes sequence 9331 \(0-based\) but"),
    # ------------------------------------------------------------------ outputs never touch inputs
    Row("output: track --output over the input video", cli(
        "track", "{root}/clip.avi", "--box", "20,20,16,16", "--model", "{root}/model", "--output", "{root}/clip.avi"),
        CLI, "--output .*clip.avi is the input video"),
    Row("output: track --results over the input video", cli(
        "track", "{root}/clip.avi", "--box", "20,20,16,16", "--model", "{root}/model", "--results", "{root}/clip.avi"),
        CLI, "--results .*clip.avi is the input video"),
    Row("output: track --output a hard link to the input video", cli(
        "track", "{root}/clip.avi", "--box", "20,20,16,16", "--model", "{root}/model", "--output",
        "{root}/clip_link.avi"), CLI, "--output .*clip_link.avi is the input video"),
    Row("output: track --results a named pipe", cli(
        "track", "{root}/frames", "--box", "20,20,16,16", "--model", "{root}/model", "--results", "{root}/pipe"),
        CLI, "--results .*pipe is a named pipe"),
    Row("output: track --results and --output one file", cli(
        "track", "{root}/clip.avi", "--box", "20,20,16,16", "--model", "{root}/model", "--results",
        "{root}/same.mp4", "--output", "{root}/same.mp4"), CLI, "--results and --output are the same file"),
    Row("output: track --results a frame of the input folder", cli(
        "track", "{root}/frames", "--box", "20,20,16,16", "--model", "{root}/model", "--results",
        "{root}/frames/00000002.jpg"), CLI, "lies inside the input video folder"),
    Row("output: export-onnx --output the model folder", cli(
        "export-onnx", "--model", "{root}/model", "--output", "{root}/model"), CLI, "--output .* is the --model"),
    Row("output: convert --output the checkpoint", cli(
        "convert", "--checkpoint", "{root}/half.pth", "--variant", "sim-b16", "--output", "{root}/half.pth"),
        CLI, "--output .*half.pth is the --checkpoint"),
    Row("output: push-to-hub --dry-run inside --from-folder", cli(
        "push-to-hub", "--from-folder", "{root}/model", "--repo-id", "me/model", "--dry-run", "{root}/model/upload"),
        CLI, "--dry-run .* lies inside the --from-folder folder"),
    Row("output: evaluate --results-dir inside the benchmark", cli(
        "evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot", "--no-model", "--baseline", "static",
        "--results-dir", "{root}/lasot/scores"), CLI, "results folder .* lies inside the benchmark root folder"),
    Row("output: evaluate --results-dir a --compare folder", cli(
        "evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot", "--no-model", "--compare",
        "old={root}/results", "--results-dir", "{root}/results"), CLI, "results folder .* is the --compare old"),
    Row("output: train --output_dir the --init_from model", cli(
        "train", "--init_from", "{root}/model", "--output_dir", "{root}/model", "--use_cpu", "true", "--report_to",
        "none"), CLI, "--output_dir .* is the --init_from"),
    Row("output: train --output_dir inside --data", cli(
        "train", "--data", "got10k:{root}/bad_got10k", "--output_dir", "{root}/bad_got10k/run", "--use_cpu", "true",
        "--report_to", "none"), CLI, "--output_dir .* lies inside the --data got10k folder"),
    # ------------------------------------------------------------------ runs know what they are
    Row("evaluate resumed with other tracking options", evaluate_twice((), "--tracking-options",
                                                                        '{"lost_threshold": 0.4}'),
        CLI, r"holds the results of another run \(tracker.tracking_options.lost_threshold: null there, 0.4 here"),
    Row("evaluate resumed with other weights", evaluate_twice((), "--model", "{root}/retrained"), CLI,
        r"holds the results of another run \(tracker.weights: \"sha256:"),
    Row("evaluate resumed on a re-rendered benchmark", evaluate_twice((), "--synthetic-sequences", "3"), CLI,
        "dataset.rendered.num_sequences: 2 there, 3 here"),
    Row("evaluate while another process writes the folder", lambda w: hold_lock(w, kill=False), CLI,
        "is being written by another process"),
    Row("evaluate after the writer was killed -9", lambda w: hold_lock(w, kill=True), None, "wrote .*results.md"),
    Row("evaluate --no-model --compare a=X --compare a=Y", cli(
        "evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot", "--no-model", "--compare",
        "a={root}/results", "--compare", "a={root}/frames"), CLI, "'a' names two result folders"),
    Row("evaluate a second model into the same results", evaluate_twice((), "--name", "retrained", "--model",
                                                                        "{root}/retrained"),
        None, "also scoring earlier runs in .*: simtrack"),
    # ------------------------------------------------------------------ numbers with bounds
    Row("track --threads 100000", cli("track", "{root}/frames", "--box", "20,20,16,16", "--model", "{root}/model",
                                      "--threads", "100000"), None, r"threads 100000 is more than the \d+ CPUs"),
    Row("track --box -5,-5,30,30", cli("track", "{root}/frames", "--box", "-5,-5,30,30", "--model", "{root}/model"),
        None, "tracked 3 frames"),
    Row("track --box 10,40,1e-9,1e-9 (sub-pixel)", cli("track", "{root}/frames", "--box", "10,40,1e-9,1e-9",
                                                       "--model", "{root}/model"), CLI, "at least 1 pixel"),
    Row("track a named pipe nobody writes to", cli("track", "{root}/pipe", "--box", "20,20,16,16", "--model",
                                                   "{root}/model"), CLI, "not a regular file or a folder"),
    Row("track camera 99999999999", cli("track", "99999999999", "--box", "20,20,16,16", "--model", "{root}/model"),
        CLI, "camera index 99999999999 is out of range"),
    Row("export-onnx --opset 0", cli("export-onnx", "--model", "{root}/model", "--output", "{root}/onnx0", "--opset",
                                     "0"), CLI, "opset_version must be an integer from 1 to"),
    Row("export-onnx --tolerance nan", cli("export-onnx", "--model", "{root}/model", "--output", "{root}/onnx0",
                                           "--tolerance", "nan"), CLI, "expected a finite number >= 0, got 'nan'"),
    Row("app --port 70000", cli("app", "--port", "70000"), CLI, "--port: expected an integer from 1 to 65535"),
    Row("app --host 999.1.1.1", cli("app", "--host", "999.1.1.1"), CLI, "cannot listen on host '999.1.1.1'"),
    # ------------------------------------------------------------------ generated benchmarks and scores
    Row("evaluate --synthetic-sequences 0", cli("evaluate", "--dataset-format", "synthetic", "--root",
                                                "{root}/generated", "--synthetic-sequences", "0"),
        CLI, "expected a positive integer, got '0'"),
    Row("evaluate --synthetic-frames 1", cli("evaluate", "--dataset-format", "synthetic", "--root",
                                             "{root}/generated", "--synthetic-frames", "1"),
        CLI, "--synthetic-frames: expected an integer from 2"),
    Row("a generated benchmark of 0 sequences", lambda w: ensure_synthetic_benchmark(w / "generated", 0, 8),
        ValueError, "at least 1 sequence of 2 frames"),
    Row("evaluate one-frame sequences", cli("evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot_short",
                                            "--no-model", "--baseline", "static", "--results-dir", "{root}/scored"),
        CLI, "too short to score, e.g. 'dog-1'"),
    Row("results.json of a score that does not exist (AO of no frame)", lambda w: json.dumps(
        TrackerEvaluation("t", w, aggregate_results([evaluate_sequence(np.ones((2, 4)), np.ones((2, 4)), [1, 0],
                                                                       convention="got10k")]), float("nan")
                          ).to_dict(), allow_nan=False), None, '"ao": null'),
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Hub lookups fail at once, as on a machine without network."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_the_table_covers_every_kind_of_input():
    assert len(ROWS) >= 60 and len({row.input for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.input for row in ROWS])
def test_bad_input(row: Row, world: Path, capsys, caplog):
    if row.input.endswith("without CUDA") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if row.error is None:
        returned = row.run(world)
        said = capsys.readouterr()
        assert re.search(row.message, "\n".join([str(returned), said.out, said.err, caplog.text]))
        return
    inputs = digest(world)
    with pytest.raises(row.error) as caught:
        row.run(world)
    assert digest(world) == inputs  # a refused command leaves its inputs as they were
    if row.error is CLI:
        assert caught.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[-1].startswith("simtrack ") and ": error: " in lines[-1], lines
        assert "Traceback" not in "\n".join(lines)
        message = lines[-1]
    else:
        message = str(caught.value)
        assert "\n" not in message.strip(), message
    assert re.search(row.message, message), message
    assert "weights_only=False" not in message


# ---------------------------------------------------------------------------------------------- around faults


def test_track_keeps_what_it_tracked_before_a_corrupt_frame(world, tmp_path, capsys):
    _write_frames(tmp_path / "clip", 8, corrupt=5)
    results = tmp_path / "boxes.txt"
    with pytest.raises(SystemExit):
        main(["track", str(tmp_path / "clip"), "--box", "20,20,16,16", "--model", str(world / "model"),
              "--results", str(results)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "frame 5: could not read image file" in error and "00000006.jpg" in error
    assert f"the 5 frames tracked before it are in {results}" in error
    assert len(read_results(results)) == 5


@pytest.mark.parametrize("backend, weights", [("torch", "model.safetensors"), ("onnxruntime", "model.onnx.data")])
@pytest.mark.parametrize("change", ["overwritten", "truncated"])
def test_a_weights_file_changed_after_loading_touches_no_tracker(tmp_path, backend, weights, change):
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config()).eval()
    if backend == "torch":
        model.save_pretrained(tmp_path)
    else:
        export_onnx(model, tmp_path)
    tracker = SimTrackTracker.from_pretrained(tmp_path, backend=backend)
    tracker.init(FRAME, [20, 20, 16, 16])
    before = tracker.track(FRAME).boxes
    file, size = tmp_path / weights, (tmp_path / weights).stat().st_size
    with open(file, "r+b") as handle:  # in place, as a copy over the file or a full disk would
        if change == "truncated":
            handle.truncate(100)  # memory-mapped weights: SIGBUS, the process dies without a word
        else:
            handle.seek(size // 2)
            handle.write(np.random.default_rng(0).bytes(size - size // 2))
    tracker.init(FRAME, [20, 20, 16, 16])
    assert np.array_equal(tracker.track(FRAME).boxes, before)


TRAIN = ["train", "--variant", "tiny", "--use_cpu", "true", "--report_to", "none", "--synthetic_sequences", "4",
         "--samples_per_epoch", "8", "--per_device_train_batch_size", "2", "--dataloader_num_workers", "0",
         "--disable_tqdm", "true"]


def test_training_stops_at_the_first_non_finite_step_and_saves_nothing(world, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main([*TRAIN, "--synthetic_dir", str(world / "synthetic"), "--output_dir", str(tmp_path / "run"),
              "--learning_rate", "1e30", "--max_steps", "4", "--save_steps", "1"])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "simtrack train: error: training stopped at step 2: the loss is NaN or inf" in error, error
    assert not (tmp_path / "run" / "model.safetensors").exists()  # nothing saved as if trained
    assert [p.name for p in (tmp_path / "run").glob("checkpoint-*")] == ["checkpoint-1"]  # the finite step
    weights = load_file(tmp_path / "run" / "checkpoint-1" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_saved_model(world, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.safetensors").write_bytes(b"the model of an earlier run")
    child = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "  # writes over 100 kB fail
             "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY)); "
             "from simtrack_cli import main; main(sys.argv[1:])")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", child, *TRAIN, "--synthetic_dir", str(world / "synthetic"),
                           "--output_dir", str(run), "--max_steps", "1", "--save_strategy", "no"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert re.search(r"simtrack train: error: saving to .*run failed \(a full disk\?\): .*File too large",
                     done.stderr.strip().splitlines()[-1])
    assert (run / "model.safetensors").read_bytes() == b"the model of an earlier run"
    assert not (run / ".saving").exists()


def test_manifest_cache_notices_deleted_frames(tmp_path):
    from simtrack_hf.data.synthetic import write_got10k_dataset
    from simtrack_hf.data.manifests import build_manifest

    write_got10k_dataset(tmp_path / "data", num_sequences=2, num_frames=24, size=(64, 80))
    cache = tmp_path / "cache"
    first = build_manifest("got10k", tmp_path / "data", cache_dir=cache)
    frames = sorted((tmp_path / "data" / "train" / first[0]["sequence"]).glob("*.jpg"))
    frames[-1].unlink()  # the labels stay as they were
    with pytest.warns(UserWarning, match="missing_frames=1"):
        again = build_manifest("got10k", tmp_path / "data", cache_dir=cache)
    assert len(again) == 1 and len(list(cache.iterdir())) == 2  # rebuilt, without the broken sequence


def test_ignore_mismatched_sizes_keeps_its_transformers_meaning(world):
    model = load_pretrained(world / "wide_in_narrow", ignore_mismatched_sizes=True)  # re-initialised, accepted
    assert model.config.intermediate_size == 64
    with pytest.raises(ValueError, match="unexpected_keys"):
        load_pretrained(world / "deep_in_shallow", ignore_mismatched_sizes=True)


def test_manifest_cache_follows_every_label_file(world, tmp_path):
    from simtrack_hf.data.synthetic import write_got10k_dataset
    from simtrack_hf.data.manifests import build_manifest

    write_got10k_dataset(tmp_path / "data", num_sequences=2, num_frames=24, size=(64, 80))
    cache = tmp_path / "cache"
    first = build_manifest("got10k", tmp_path / "data", cache_dir=cache)
    gt = tmp_path / "data" / "train" / first[0]["sequence"] / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(["5.0000,6.0000,7.0000,8.0000", *lines[1:]]) + "\n")  # fixed in place
    assert build_manifest("got10k", tmp_path / "data", cache_dir=cache)[0]["boxes"][0] == [5, 6, 7, 8]
    assert len(list(cache.iterdir())) == 2
    rebuilt = build_manifest("got10k", tmp_path / "data", cache_dir=cache, rebuild=True)
    assert rebuilt[0]["boxes"][0] == [5, 6, 7, 8] and len(list(cache.iterdir())) == 2


def test_train_has_rebuild_manifests():
    from simtrack_hf.commands.train import parse_args

    sim, _ = parse_args(["--rebuild_manifests", "true", "--output_dir", "unused", "--use_cpu", "true"])
    assert sim.rebuild_manifests is True


def test_an_all_bad_dataset_leaves_no_cache_entry(world, tmp_path):
    from simtrack_hf.data.manifests import build_manifest

    for _ in range(2):  # the second run fails the same clear way (no broken entry left behind)
        with pytest.warns(UserWarning), pytest.raises(ValueError, match="no usable sequence"):
            build_manifest("got10k", world / "bad_got10k", cache_dir=tmp_path / "cache")
    assert not list(tmp_path.glob("cache/*"))


def test_pipeline_box_with_two_boxes_returns_both_targets(world):
    from transformers import pipeline

    pipe = pipeline("visual-object-tracking", model=str(world / "model"))
    frames = [np.roll(FRAME, 2 * i, axis=1) for i in range(3)]
    both = pipe(frames, box=[[20, 20, 16, 16], [40, 30, 12, 12]])
    assert len(both) == 3 and [[o["id"] for o in frame["objects"]] for frame in both] == [[0, 1]] * 3
    assert both[0]["objects"][1]["box"] == {"xmin": 40, "ymin": 30, "xmax": 52, "ymax": 42}
    assert [len(frame["objects"]) for frame in pipe(frames, box=[20, 20, 16, 16])] == [1, 1, 1]  # one box: one


def test_an_interrupted_synthetic_benchmark_is_never_scored(tmp_path, monkeypatch):
    from simtrack_hf.data import synthetic
    from simtrack_hf.data.rendering import ensure_synthetic_benchmark

    render = synthetic.render_sequence

    def fail_on_the_second(seed, **kwargs):
        if seed[1] == 2:
            raise KeyboardInterrupt
        return render(seed, **kwargs)

    root = tmp_path / "synthetic"
    monkeypatch.setattr(synthetic, "render_sequence", fail_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_benchmark(root, 3, 8)
    assert not root.exists() and not list(tmp_path.iterdir())  # nothing that looks like a benchmark
    monkeypatch.setattr(synthetic, "render_sequence", render)
    ensure_synthetic_benchmark(root, 3, 8)
    assert len(read_benchmark("synthetic", root)) == 3 and (root / ".complete").is_file()


def test_train_never_deletes_a_folder_it_did_not_render(world, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--synthetic_dir", str(world / "foreign_synthetic"), "--output_dir", str(world / "run"),
              "--use_cpu", "true", "--report_to", "none"])
    assert (world / "foreign_synthetic" / "train" / "my_notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("module, command, extra", [
    ("matplotlib", ["evaluate", "--dataset-format", "lasot", "--root", "{root}/lasot"], "eval"),
    ("datasets", ["train", "--data", "got10k:{root}/bad_got10k", "--output_dir", "{root}/run", "--use_cpu", "true",
                  "--report_to", "none", "--rebuild_manifests", "true", "--variant", "tiny"], "train"),
])
def test_a_missing_extra_names_its_pip_install(world, monkeypatch, capsys, module, command, extra):
    for name in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "simtrack_hf.data.manifests", raising=False)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as when it is not installed
    with pytest.raises(SystemExit) as caught:
        main([a.replace("{root}", str(world)) for a in command])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"simtrack {command[0]}: error: this needs {module}, which is not installed: pip install simtrack_hf[{extra}]")


def test_console_script_says_one_line_and_debug_shows_the_traceback(world, monkeypatch):
    argv = ["track", str(world / "nope.mp4"), "--box", "1,1,9,9", "--model", str(world / "model")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("SIMTRACK_DEBUG", None)
    quiet = subprocess.run([str(Path(sys.executable).parent / "simtrack"), *argv], capture_output=True, text=True,
                           env=env, timeout=120)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip().splitlines()[-1] == (
        f"simtrack track: error: video file or image folder not found: {world / 'nope.mp4'}")
    with pytest.raises(FileNotFoundError):  # --debug: the exception itself, so Python prints its traceback
        main([*argv, "--debug"])
    monkeypatch.setenv("SIMTRACK_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(argv)
