#!/usr/bin/env python
"""Train the default SimTrack model from scratch on real photographs, save it, and score it on held-out photos.

    python scripts/make_demo_model.py --work_dir work/demo     # full run (see --max_steps), ~85 min on 2 CPU cores
    python scripts/make_demo_model.py --max_steps 20 --output_dir /tmp/demo --eval_sequences 2   # smoke test

Data: the photographic wallpapers fetched by ``simtrack fetch-photos`` (Debian packages, licences in the README),
``train`` split only. They become (a) short videos with a moving camera, moving objects cut from photos,
look-alike distractors, occluders, blur and illumination drift (``write_photo_dataset``), (b) "still image as a
video" pairs (``still_photo_rows``), and (c) a share of the procedural synthetic videos. Evaluation renders videos
from the ``heldout`` photos (never trained on) with other seeds and compares the tracker with a static baseline
that repeats the first-frame box (pytracking convention). The table goes to ``OUTPUT_DIR/demo_eval.json``.

No pretrained weights are available offline: the "compact" preset (width 192, 6 layers, template 64, search 128,
patch 16; about 2.8 M parameters) trains from random initialisation with the reference recipe except for two
from-scratch adjustments, both flags: the backbone trains at the full learning rate (``--backbone_lr_multiplier
1``; the x0.1 of the paper protects pretrained CLIP weights) and the learning rate is higher with a warm-up.
With ``--work_dir`` the rendered data and checkpoints persist: rerunning the same command resumes from the newest
complete checkpoint instead of starting over.
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
from simtrack_hf.convert_simtrack import load_config
from simtrack_hf.data.manifests import build_manifest
from simtrack_hf.data.photos import list_photos, load_photos, render_photo_sequence, still_photo_rows
from simtrack_hf.evaluation import evaluate_sequences
from simtrack_hf.inference.tracker import SimTrackTracker
from simtrack_hf.modeling_simtrack import SimTrackModel
from simtrack_hf.training import (
    SimTrackTrainer,
    SimTrackTrainingArguments,
    TrackingPairDataset,
    collate_pairs,
    ensure_photo_got10k,
    ensure_synthetic_got10k,
    last_complete_checkpoint,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "src" / "simtrack_hf" / "demo_model"
logger = logging.getLogger("make_demo_model")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output_dir", "--output-dir", default=str(DEFAULT_OUTPUT), help="model + processor folder")
    p.add_argument("--work_dir", "--work-dir", default=None,
                   help="synthetic data and checkpoints (default: a temporary folder, removed at the end)")
    p.add_argument("--photos", default=None,
                   help="photo folder with train/ and heldout/ (default: the cache of `simtrack fetch-photos`)")
    p.add_argument("--variant", default="compact", help="preset or variant (default: compact)")
    p.add_argument("--config", default=None, help="config.json path or inline JSON over --variant")
    p.add_argument("--max_steps", "--max-steps", type=int, default=9000)
    p.add_argument("--batch_size", "--batch-size", type=int, default=32)
    p.add_argument("--learning_rate", "--learning-rate", type=float, default=8e-4)
    p.add_argument("--backbone_lr_multiplier", "--backbone-lr-multiplier", type=float, default=1.0)
    p.add_argument("--warmup_steps", "--warmup-steps", type=int, default=200)
    p.add_argument("--num_sequences", "--num-sequences", type=int, default=800, help="training videos from photos")
    p.add_argument("--num_synthetic", "--num-synthetic", type=int, default=150, help="procedural training videos")
    p.add_argument("--still_boxes", "--still-boxes", type=int, default=40, help="still-image targets per photo")
    p.add_argument("--ratios", default="0.6,0.25,0.15", help="sampling ratios: photo videos, still photos, synthetic")
    p.add_argument("--save_steps", "--save-steps", type=int, default=250)
    p.add_argument("--num_frames", "--num-frames", type=int, default=40, help="frames per training video")
    p.add_argument("--data_seed", "--data-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--num_workers", "--num-workers", type=int, default=0,
                   help="DataLoader workers (0: on a 2-core CPU a worker process slows training several-fold)")
    p.add_argument("--eval_sequences", "--eval-sequences", type=int, default=12)
    p.add_argument("--eval_frames", "--eval-frames", type=int, default=100)
    p.add_argument("--eval_seed", "--eval-seed", type=int, default=1000)
    p.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    return p.parse_args(argv)


def photo_folder(args: argparse.Namespace, split: str) -> Path:
    from simtrack_hf.data.photos import default_photo_dir

    return (Path(args.photos) if args.photos else default_photo_dir()) / split


def train(args: argparse.Namespace, work: Path) -> tuple[SimTrackModel, SimTrackImageProcessor, dict]:
    """Train on photo videos, still photos and synthetic videos; returns the model, its processor and facts."""
    set_seed(args.seed)
    config = load_config(args.variant, args.config)
    model = SimTrackModel(config)
    processor = SimTrackImageProcessor.from_model_config(config)
    photo_paths = list_photos(photo_folder(args, "train"))
    start = time.time()
    photo_root = ensure_photo_got10k(work / "photo_data", photo_paths, args.num_sequences, args.num_frames,
                                     seed=args.data_seed)
    synthetic_root = ensure_synthetic_got10k(work / "data", args.num_synthetic, args.num_frames, seed=args.data_seed)
    render_seconds = time.time() - start
    manifests = {
        "photo_videos": build_manifest("got10k", photo_root, cache_dir=work / "manifests"),
        "still_photos": still_photo_rows(photo_paths, args.still_boxes, seed=args.data_seed),
        "synthetic": build_manifest("got10k", synthetic_root, cache_dir=work / "manifests"),
    }
    ratios = dict(zip(manifests, (float(r) for r in args.ratios.split(","))))
    samples = args.max_steps * args.batch_size
    dataset = TrackingPairDataset(manifests, processor, ratios=ratios, samples_per_epoch=samples,
                                  seed=args.data_seed)
    training_args = SimTrackTrainingArguments(
        output_dir=str(work / "checkpoints"), max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, backbone_lr_multiplier=args.backbone_lr_multiplier,
        warmup_steps=args.warmup_steps, logging_steps=max(1, min(100, args.max_steps // 10)), save_strategy="steps",
        save_steps=args.save_steps, save_total_limit=2, seed=args.seed, dataloader_num_workers=args.num_workers,
        dataloader_pin_memory=False, disable_tqdm=True, report_to="none", use_cpu=not torch.cuda.is_available(),
    )
    trainer = SimTrackTrainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate_pairs,
                              processing_class=processor)
    resume = last_complete_checkpoint(work / "checkpoints")
    if resume is not None:
        logger.info("resuming from %s", resume)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.time() - start
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    facts = {
        "steps": args.max_steps, "batch_size": args.batch_size, "train_seconds_this_run": round(seconds, 1),
        "resumed_from": resume.name if resume else None, "render_seconds": round(render_seconds, 1),
        "final_train_loss": logs[-1]["loss"] if logs else None,
        "final_train_mean_iou": logs[-1].get("mean_iou") if logs else None, "train_loss": result.training_loss,
        "training_photos": len(photo_paths), "photo_videos": args.num_sequences,
        "synthetic_videos": args.num_synthetic, "frames_per_video": args.num_frames, "ratios": ratios,
    }
    return trainer.model, processor, facts


def evaluate(model: SimTrackModel, processor: SimTrackImageProcessor, args: argparse.Namespace) -> dict:
    """Success AUC / precision of the tracker vs a static first-frame box on videos of held-out photos."""
    photos = load_photos(list_photos(photo_folder(args, "heldout")))
    tracker = SimTrackTracker(model.eval(), processor)
    preds, static, gts, visibles = [], [], [], []
    frames_tracked, start = 0, time.time()
    for i in range(args.eval_sequences):
        seq = render_photo_sequence(photos, (args.eval_seed, i), num_frames=args.eval_frames)
        boxes = [tracker.init(seq.frames[0], seq.boxes[0]).boxes[0]]
        boxes += [tracker.track(frame).boxes[0] for frame in seq.frames[1:]]
        frames_tracked += len(seq.frames) - 1
        preds.append(np.stack(boxes))
        static.append(np.repeat(seq.boxes[:1], len(seq.boxes), 0))
        gts.append(seq.boxes)
        visibles.append(seq.visible)
    fps = frames_tracked / (time.time() - start)
    names = [f"heldout_photos_{args.eval_seed}_{i}" for i in range(args.eval_sequences)]
    rows = {
        "simtrack": evaluate_sequences(preds, gts, visibles, names=names).to_dict(),
        "static_first_box": evaluate_sequences(static, gts, visibles, names=names).to_dict(),
    }
    return {"sequences": args.eval_sequences, "frames_per_sequence": args.eval_frames, "eval_seed": args.eval_seed,
            "tracker_fps": round(fps, 1), "scores": rows}


def print_table(report: dict) -> None:
    keys = ("auc", "precision", "norm_precision", "sr50")
    print(f"\nvideos of held-out photos: {report['sequences']} x {report['frames_per_sequence']} frames "
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
