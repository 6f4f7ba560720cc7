#!/usr/bin/env python
"""Train the small demo SimTrack from scratch on synthetic videos, save it, and score it on held-out videos.

    python scripts/make_demo_model.py                      # full run (see --max_steps), ~20 min on 2 CPU cores
    python scripts/make_demo_model.py --max_steps 20 --output_dir /tmp/demo --eval_sequences 2   # smoke test

No pretrained weights are needed (none are available offline): the "small" preset (width 128, 4 layers, template
64, search 128, patch 16, head 64; about 1 M parameters, 4 MB of fp32 safetensors) is trained from random
initialisation with the reference recipe except for two from-scratch adjustments, both flags: the backbone trains
at the full learning rate (``--backbone_lr_multiplier 1``; the x0.1 of the paper protects pretrained CLIP weights)
and the learning rate is higher with a short warm-up. Training videos come from
``write_got10k_dataset(seed=--data_seed)``; evaluation videos are rendered with other seeds
(``(--eval_seed, i)``), so the model never saw them. The tracker is compared with a static baseline that
repeats the first-frame box, with ``simtrack_hf.evaluation`` (pytracking convention: success AUC, precision at
20 px, normalised precision). The table is printed and written to ``OUTPUT_DIR/demo_eval.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import set_seed

from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.data import TrackingPairDataset, build_manifest, collate_pairs, render_sequence
from simtrack_hf.evaluation import evaluate_sequences
from simtrack_hf.modeling_simtrack import SimTrackModel
from simtrack_hf.tracking import SimTrackTracker
from simtrack_hf.training import SimTrackTrainer, SimTrackTrainingArguments, build_config, ensure_synthetic_got10k

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "src" / "simtrack_hf" / "demo_model"
logger = logging.getLogger("make_demo_model")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output_dir", "--output-dir", default=str(DEFAULT_OUTPUT), help="model + processor folder")
    p.add_argument("--work_dir", "--work-dir", default=None,
                   help="synthetic data and checkpoints (default: a temporary folder, removed at the end)")
    p.add_argument("--variant", default="small", help="preset or variant (default: small)")
    p.add_argument("--config", default=None, help="config.json path or inline JSON over --variant")
    p.add_argument("--max_steps", "--max-steps", type=int, default=6000)
    p.add_argument("--batch_size", "--batch-size", type=int, default=32)
    p.add_argument("--learning_rate", "--learning-rate", type=float, default=8e-4)
    p.add_argument("--backbone_lr_multiplier", "--backbone-lr-multiplier", type=float, default=1.0)
    p.add_argument("--warmup_steps", "--warmup-steps", type=int, default=200)
    p.add_argument("--num_sequences", "--num-sequences", type=int, default=300, help="training videos")
    p.add_argument("--num_frames", "--num-frames", type=int, default=40, help="frames per training video")
    p.add_argument("--data_seed", "--data-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--num_workers", "--num-workers", type=int, default=0,
                   help="DataLoader workers (0: on a 2-core CPU a worker process slows training several-fold)")
    p.add_argument("--eval_sequences", "--eval-sequences", type=int, default=12)
    p.add_argument("--eval_frames", "--eval-frames", type=int, default=120)
    p.add_argument("--eval_seed", "--eval-seed", type=int, default=1000)
    p.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    return p.parse_args(argv)


def train(args: argparse.Namespace, work: Path) -> tuple[SimTrackModel, SimTrackImageProcessor, dict]:
    """Train on synthetic videos; returns the model, its processor and training facts."""
    set_seed(args.seed)
    config = build_config(args.variant, args.config)
    model = SimTrackModel(config)
    processor = SimTrackImageProcessor.from_model_config(config)
    root = ensure_synthetic_got10k(work / "data", args.num_sequences, args.num_frames, seed=args.data_seed)
    manifest = build_manifest("got10k", root, cache_dir=work / "manifests")
    samples = args.max_steps * args.batch_size
    dataset = TrackingPairDataset({"synthetic": manifest}, processor, samples_per_epoch=samples, seed=args.data_seed)
    training_args = SimTrackTrainingArguments(
        output_dir=str(work / "checkpoints"), max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, backbone_lr_multiplier=args.backbone_lr_multiplier,
        warmup_steps=args.warmup_steps, logging_steps=max(1, min(100, args.max_steps // 10)), save_strategy="steps",
        save_steps=1000, save_total_limit=1, seed=args.seed, dataloader_num_workers=args.num_workers,
        dataloader_pin_memory=False, disable_tqdm=True, report_to="none", use_cpu=not torch.cuda.is_available(),
    )
    trainer = SimTrackTrainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate_pairs,
                              processing_class=processor)
    start = time.time()
    result = trainer.train()
    seconds = time.time() - start
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    facts = {
        "steps": args.max_steps, "batch_size": args.batch_size, "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / args.max_steps, 4), "final_train_loss": logs[-1]["loss"] if logs else None,
        "final_train_mean_iou": logs[-1].get("mean_iou") if logs else None, "train_loss": result.training_loss,
        "training_videos": args.num_sequences, "frames_per_video": args.num_frames,
    }
    return trainer.model, processor, facts


def evaluate(model: SimTrackModel, processor: SimTrackImageProcessor, args: argparse.Namespace) -> dict:
    """Success AUC / precision of the tracker vs a static first-frame box on held-out synthetic videos."""
    tracker = SimTrackTracker(model.eval(), processor)
    preds, static, gts, visibles = [], [], [], []
    frames_tracked, start = 0, time.time()
    for i in range(args.eval_sequences):
        seq = render_sequence((args.eval_seed, i), num_frames=args.eval_frames)
        boxes = [tracker.init(seq.frames[0], seq.boxes[0]).boxes[0]]
        boxes += [tracker.track(frame).boxes[0] for frame in seq.frames[1:]]
        frames_tracked += len(seq.frames) - 1
        preds.append(np.stack(boxes))
        static.append(np.repeat(seq.boxes[:1], len(seq.boxes), 0))
        gts.append(seq.boxes)
        visibles.append(seq.visible)
    fps = frames_tracked / (time.time() - start)
    names = [f"synthetic_{args.eval_seed}_{i}" for i in range(args.eval_sequences)]
    rows = {
        "simtrack": evaluate_sequences(preds, gts, visibles, names=names).to_dict(),
        "static_first_box": evaluate_sequences(static, gts, visibles, names=names).to_dict(),
    }
    return {"sequences": args.eval_sequences, "frames_per_sequence": args.eval_frames, "eval_seed": args.eval_seed,
            "tracker_fps": round(fps, 1), "scores": rows}


def print_table(report: dict) -> None:
    keys = ("auc", "precision", "norm_precision", "sr50")
    print(f"\nheld-out synthetic videos: {report['sequences']} x {report['frames_per_sequence']} frames "
          f"(pytracking convention, percent)")
    print(f"{'tracker':<18}" + "".join(f"{k:>16}" for k in keys))
    for name, scores in report["scores"].items():
        print(f"{name:<18}" + "".join(f"{scores[k]:>16.1f}" for k in keys))
    print(f"tracker speed: {report['tracker_fps']} frames/s\n")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="simtrack_demo_"))
    try:
        model, processor, facts = train(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    report = evaluate(model, processor, args)
    report["training"] = facts
    report["config"] = {k: getattr(model.config, k) for k in (
        "hidden_size", "num_hidden_layers", "num_attention_heads", "patch_size", "template_size", "search_size",
        "foveal_size", "head_hidden_size")}
    (model.half() if args.fp16 else model).save_pretrained(out)
    processor.save_pretrained(out)
    (out / "demo_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    size_mb = sum(f.stat().st_size for f in out.glob("*.safetensors")) / 2**20
    print(f"saved model + processor to {out} ({size_mb:.1f} MB of safetensors)")
    return report


if __name__ == "__main__":
    main()
