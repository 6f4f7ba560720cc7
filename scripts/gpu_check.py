#!/usr/bin/env python
"""GPU check of the paper's set-up, one command, a few minutes on one GPU, one markdown table:

    python scripts/gpu_check.py                      # Sim-B/16 on cuda: tracker, training, CPU-vs-GPU boxes
    python scripts/gpu_check.py --output gpu.md      # also write the table (and the machine) to a file

* tracker: Sim-B/16 `SimTrackTracker` frames/s on 1280x720 frames (the measurement of `simtrack benchmark`, random
  weights) in fp32 (eager attention, the baseline; SDPA), fp16, bf16 and torch.compile; "box dev" = largest box
  difference in pixels from the fp32 baseline on the same device.
* training: `SimTrackTrainer` (the recipe: AdamW groups, step decay, clipping) steps/s and peak memory at the
  paper's per-GPU batch (64) on generated crops (random tensors in memory: the GPU's step, not data decoding) in
  fp32, `--bf16`, `--fp16` and `--bf16 --torch_compile`; the first `--warmup` steps (compilation) are not timed.
* boxes: the same model's tracker boxes on CPU (fp32) against the GPU's in fp32 / fp16 / bf16 (pixels, max).

Without a GPU it runs the same code on the CPU with the `tiny` preset and a batch of 4 (a check of the script, not
a measurement); `--no-compile` leaves out the compiled rows (their first call compiles for a minute or more).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from simtrack_hf.configuration_simtrack import SimTrackConfig
from simtrack_hf.image_processing_simtrack import SimTrackImageProcessor
from simtrack_hf.inference.tracker import SimTrackTracker
from simtrack_hf.modeling_simtrack import SimTrackModel
from simtrack_hf.tools.speed import (
    PeakMemory,
    box_deviation,
    machine_info,
    measure_speed,
    moving_frames,
    scale_heads,
    synthetic_frame,
    target_boxes,
)
from simtrack_hf.training import SimTrackTrainer, SimTrackTrainingArguments, collate_pairs

COLUMNS = ("check", "device", "precision", "batch", "rate", "peak MiB", "box dev px max")
PAPER_BATCH = 64  # pairs per GPU (8 GPUs, 512 per step)


class GeneratedPairs(torch.utils.data.Dataset):
    """`length` training pairs drawn from a pool of `pool` random crops (normalised pixels, boxes inside)."""

    def __init__(self, config: SimTrackConfig, length: int, pool: int = 16, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        t, s = config.template_size, config.search_size
        xy = 0.2 + 0.3 * torch.rand(pool, 2, generator=g)
        wh = 0.1 + 0.3 * torch.rand(pool, 2, generator=g)
        self.items = [{
            "template_pixel_values": torch.randn(3, t, t, generator=g),
            "search_pixel_values": torch.randn(3, s, s, generator=g),
            "template_boxes": torch.cat((xy[i], wh[i])),
            "labels": torch.cat((xy[i] + wh[i] / 2, wh[i])),
        } for i in range(pool)]
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index % len(self.items)]


class StepTimer(TrainerCallback):
    """Wall time of the optimizer steps after the first `skip` (CUDA synchronised)."""

    def __init__(self, skip: int) -> None:
        self.skip, self.start, self.steps, self.seconds = skip, None, 0, 0.0

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if state.global_step == self.skip:
            self.start = time.perf_counter()
        elif state.global_step > self.skip:
            self.steps, self.seconds = state.global_step - self.skip, time.perf_counter() - self.start


def training_row(config: SimTrackConfig, device: torch.device, batch: int, steps: int, warmup: int,
                 precision: str, compiled: bool) -> dict[str, Any]:
    """Train a fresh model for `warmup + steps` steps with the recipe; steps/s over the last `steps`."""
    torch.manual_seed(0)
    model = SimTrackModel(config)
    timer = StepTimer(warmup)
    with tempfile.TemporaryDirectory(prefix="simtrack-gpu-check-") as output_dir:
        args = SimTrackTrainingArguments(
            output_dir=output_dir, max_steps=warmup + steps, per_device_train_batch_size=batch,
            bf16=precision == "bf16", fp16=precision == "fp16", torch_compile=compiled, use_cpu=device.type == "cpu",
            dataloader_num_workers=0, save_strategy="no", report_to="none", logging_steps=10**6, disable_tqdm=True,
        )
        trainer = SimTrackTrainer(model=model, args=args, data_collator=collate_pairs,
                                  train_dataset=GeneratedPairs(config, batch * (warmup + steps)), callbacks=[timer])
        with PeakMemory(device) as memory:
            trainer.train()
    rate = timer.steps / timer.seconds
    return {"check": "training" + (" compiled" if compiled else ""), "device": device.type, "precision": precision,
            "batch": batch, "rate": f"{rate:.2f} steps/s ({rate * batch:.0f} pairs/s)",
            "peak MiB": f"{memory.peak:.0f}", "box dev px max": ""}


def tracker_boxes(model: SimTrackModel, device: str, dtype: torch.dtype, frames: int) -> np.ndarray:
    """(frames, 1, 4) tracker boxes on `moving_frames`, the tracker re-initialised on the first frame each time
    (on a copy of `model`: the tracker moves and casts its model)."""
    tracker = SimTrackTracker(copy.deepcopy(model), SimTrackImageProcessor.from_model_config(model.config),
                              device=device, torch_dtype=dtype)
    frame, boxes = synthetic_frame(), target_boxes(1)
    out = []
    for shifted in moving_frames(frames):
        tracker.init(frame, boxes)
        out.append(tracker.track(shifted).boxes)
    return np.stack(out)


def agreement_rows(config: SimTrackConfig, device: torch.device, frames: int) -> list[dict[str, Any]]:
    """CPU fp32 boxes against `device`'s in fp32, fp16 and bf16 (only fp32 when `device` is the CPU)."""
    torch.manual_seed(0)
    model = scale_heads(SimTrackModel(config).eval())
    reference = tracker_boxes(model, "cpu", torch.float32, frames)
    dtypes = [torch.float32] + ([torch.float16, torch.bfloat16] if device.type == "cuda" else [])
    rows = []
    for dtype in dtypes:
        boxes = tracker_boxes(model, device.type, dtype, frames)
        name = str(dtype).replace("torch.", "").replace("float32", "fp32").replace("float16", "fp16")
        rows.append({"check": f"boxes: cpu fp32 vs {device.type}", "device": device.type,
                     "precision": name.replace("bfloat16", "bf16"), "batch": 1, "rate": f"{frames} frames",
                     "peak MiB": "", "box dev px max": f"{box_deviation(boxes, reference).max():.3f}"})
    return rows


def tracker_rows(config: SimTrackConfig, device: torch.device, frames: int, compiled: bool) -> list[dict[str, Any]]:
    backends = ["eager", "sdpa"] + (["cuda-fp16", "cuda-bf16"] if device.type == "cuda" else [])
    result = measure_speed([config], backends + (["compile"] if compiled else []), frames=frames, warmup=3,
                           device=device.type)
    return [{"check": "tracker" + (" compiled" if row["backend"] == "compile" else f" ({row['backend']})"),
             "device": row["device"], "precision": row["dtype"].replace("float32", "fp32").replace(
                 "float16", "fp16").replace("bfloat16", "bf16"), "batch": 1,
             "rate": f"{row['tracker_fps']:.1f} frames/s", "peak MiB": f"{row['peak_mib']:.0f}",
             "box dev px max": f"{row['box_dev_px_max']:.3f}"} for row in result["rows"]]


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default=None, help="default: sim-b16 on a GPU, the tiny preset on the CPU")
    parser.add_argument("--batch", type=int, default=None, help=f"training batch (default {PAPER_BATCH}; CPU 4)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per row (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first training steps (default 3)")
    parser.add_argument("--frames", type=int, default=50, help="tracked frames per row (default 50)")
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile rows")
    parser.add_argument("--output", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    config = SimTrackConfig.from_variant(args.variant or ("sim-b16" if gpu else "tiny"))
    config.name_or_path = args.variant or ("sim-b16" if gpu else "tiny")
    batch = args.batch or (PAPER_BATCH if gpu else 4)
    compiled = not args.no_compile

    rows = tracker_rows(config, device, args.frames, compiled)
    precisions = ["fp32", "bf16", "fp16"] if gpu else ["fp32"]
    rows += [training_row(config, device, batch, args.steps, args.warmup, p, False) for p in precisions]
    if compiled:
        rows.append(training_row(config, device, batch, args.steps, args.warmup, precisions[1 if gpu else 0], True))
    rows += agreement_rows(config, device, min(args.frames, 10))

    machine = machine_info()
    title = (f"{config.name_or_path} on {machine.get('gpu') or machine.get('cpu')} (torch {torch.__version__})"
             + ("" if gpu else ": NO GPU, a CPU check of the script, not a measurement"))
    table = f"{title}\n\n{format_table(rows)}\n"
    print(table)
    if args.output:
        args.output.write_text(table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
