"""Hub export of SimTrack variants: model cards, the exact upload folder and the push.

The upload folder holds `config.json`, `model.safetensors`, `preprocessor_config.json`, `README.md` (the model card)
and the code (`configuration_simtrack.py`, `modeling_simtrack.py`, `image_processing_simtrack.py`, and the
tracking session and pipeline `tracking_simtrack.py`, `pipeline_simtrack.py`) with `auto_map` and
`custom_pipelines` entries, so `AutoModel` and `pipeline("visual-object-tracking")` work with
`trust_remote_code=True` without `simtrack_hf`. Cards are rendered from
`simtrack_hf/model_cards/` (shipped in the package); the command is `simtrack push-to-hub`.

Card metadata: no `pipeline_tag` (the Hub has no tracking task, and `pipeline("object-detection")` cannot run a
tracker); the pipeline ships as `custom_pipelines`. `model-index` carries the paper's table where the card shows it
for the authors' weights. The card lists what the remote code needs besides torch (`remote_code_requirements`).
A `simtrack train` output records its base and data (`PROVENANCE_FILE`, `training_provenance`); its card states
them and the base's licence instead of the paper's CLIP / LaSOT / MIT story.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers.dynamic_module_utils import custom_object_save

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..image_processing_simtrack import SimTrackImageProcessor
from ..loading import WeightsKind, load_model, parity_check
from ..modeling_simtrack import SimTrackModel
from ..pipeline_simtrack import TASK, VisualObjectTrackingPipeline
from .speed import card_flops

MODEL_CARDS_DIR = Path(__file__).resolve().parents[1] / "model_cards"
UPLOAD_FILES = frozenset({
    "README.md", "config.json", "model.safetensors", "preprocessor_config.json",
    "configuration_simtrack.py", "modeling_simtrack.py", "image_processing_simtrack.py", "tracking_simtrack.py",
    "pipeline_simtrack.py",
})
AUTO_CLASSES = {SimTrackConfig: "AutoConfig", SimTrackModel: "AutoModel", SimTrackImageProcessor: "AutoImageProcessor"}
WEIGHTS_PLACEHOLDER = (
    "<!-- weights-source -->\n*Filled in by `scripts/push_to_hub.py` at upload time: a converted original "
    "checkpoint, weights trained with `simtrack_hf`, or a CLIP initialisation with an untrained head.*"
)
PROVENANCE_FILE = "simtrack_training.json"
"""Written by `simtrack train` beside the trained model: what it started from and what it trained on."""
REMOTE_CODE_PACKAGES = ("transformers", "opencv-python-headless", "pillow")
"""What the remote code imports besides torch (and transformers' own dependencies, numpy among them)."""
PAPER_DATASETS = ["lasot", "got10k", "trackingnet", "coco"]
_REGISTRATION_LOCK = threading.RLock()
_MISSING = object()


# ------------------------------------------------------------------------------------------ weights source
@dataclass
class WeightsSource:
    """Where the uploaded weights come from; `describe()` is the card's Weights section."""

    kind: WeightsKind
    path: str
    sha256: str | None = None
    note: str = ""
    training: dict[str, Any] | None = None  # a training output's PROVENANCE_FILE

    def describe(self) -> str:
        name = f"`{Path(self.path).name}`"
        if self.kind == "original":
            digest = f" (sha256 `{self.sha256}`)" if self.sha256 else ""
            text = (
                f"Converted from the original SimTrack checkpoint {name}{digest} with "
                "`simtrack_hf.convert_simtrack.convert_original_state_dict`. The uploaded folder was reloaded and "
                "gives the same boxes as the converted model on a fixed seeded input."
            )
        elif self.kind == "folder" and self.training is not None:
            base = self.training["base"]
            start = (f"from {base['name']} (`{base['path']}`, licence: {base['license'] or 'not stated'})" if base
                     else "from a random initialisation")
            text = (
                f"Trained with `simtrack_hf` (training output {name}) {start} on {self.training['data']}. Not the "
                "authors' weights: no paper result applies to them."
            )
            if self.training["dropped_tracking_options"]:
                text += (f" The base's calibrated tracking options {self.training['dropped_tracking_options']} were "
                         "not carried over (they were calibrated for the base, not for these weights).")
        elif self.kind == "folder":
            text = (
                f"Trained with `simtrack_hf` (training output {name}), not the authors' weights: the reported "
                "results below are the paper's, not these weights'."
            )
        else:
            text = (
                f"**Untrained head.** The backbone is initialised from the CLIP vision weights {name} "
                "(`simtrack_from_clip_vision`); `pos_fc`, the bottleneck and the corner head are random. This "
                "is the paper's starting point for training: the model does not track until it is trained."
            )
        return text + (f"\n\n{self.note}" if self.note else "")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_provenance(init_from: str | None, data: str | None,
                        dropped_tracking_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a training run starts from (its name, path, licence and datasets, read from the base folder's card when
    it has one) and trains on (the `--data` spec, or the synthetic videos): the PROVENANCE_FILE content."""
    base = None
    if init_from:
        path = Path(init_from) / "README.md"
        card = ModelCard.load(path) if path.is_file() else None
        meta = card.data.to_dict() if card else {}
        heading = re.search(r"^# (.+)$", card.text, re.M) if card else None
        hub_id = None if Path(init_from).exists() else init_from
        base = {"path": str(init_from), "name": heading.group(1) if heading else Path(init_from).name,
                "license": meta.get("license"), "datasets": meta.get("datasets") or [], "hub_id": hub_id}
    return {"base": base, "data": f"`{data}`" if data else "the procedural synthetic videos of `simtrack_hf`",
            "datasets": [part.split(":")[0] for part in data.split(",")] if data else [],
            "dropped_tracking_options": dropped_tracking_options or {}}


def read_provenance(folder: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(folder) / PROVENANCE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def remote_code_requirements() -> list[str]:
    """`pip install` lines for the remote code (besides torch), with this package's own version bounds."""
    bounds = {}
    for line in importlib.metadata.requires("simtrack_hf") or []:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*([^;]*)", line)
        if match and ";" not in line:
            bounds[match.group(1).lower()] = match.group(2).strip()
    return [f"{package}{bounds.get(package, '')}" for package in REMOTE_CODE_PACKAGES]


def config_differences(config: SimTrackConfig, variant: str) -> dict[str, tuple[Any, Any]]:
    """{field: (config value, preset value)} for the variant-defining fields that differ."""
    preset = SIMTRACK_VARIANTS[variant]
    return {k: (getattr(config, k), v) for k, v in preset.items() if getattr(config, k) != v}


def load_weights(
    variant: str,
    *,
    checkpoint: str | os.PathLike | None = None,
    from_folder: str | os.PathLike | None = None,
    clip: str | os.PathLike | None = None,
    config: SimTrackConfig | None = None,
    allow_config_mismatch: bool = False,
) -> tuple[SimTrackModel, SimTrackImageProcessor, WeightsSource]:
    """Model, processor and source from exactly one of an original checkpoint, a save_pretrained folder or CLIP.

    `config` (default: the variant preset) is used for `checkpoint` and `clip`; a folder brings its own config,
    which must match the preset unless `allow_config_mismatch`.
    """
    sources = {"original": checkpoint, "folder": from_folder, "clip": clip}
    given = [(kind, path) for kind, path in sources.items() if path is not None]
    if len(given) != 1:
        raise ValueError("give exactly one weights source: checkpoint, from_folder or clip")
    kind, path = given[0]
    model = load_model(path, config or SimTrackConfig.from_variant(variant), kind=kind)
    differences = config_differences(model.config, variant) if kind == "folder" else {}
    if differences and not allow_config_mismatch:
        raise ValueError(f"{from_folder} is not a {variant} model (config vs preset): {differences}")
    source = WeightsSource(kind, str(path), sha256=file_sha256(path) if kind == "original" else None,
                           training=read_provenance(path) if kind == "folder" else None)
    processor = SimTrackImageProcessor.from_model_config(model.config)
    if from_folder is not None and (Path(from_folder) / "preprocessor_config.json").is_file():
        processor = SimTrackImageProcessor.from_pretrained(from_folder)
    return model.eval(), processor, source


# -------------------------------------------------------------------------------------------- model cards
def nearest_variant(config: SimTrackConfig) -> str:
    """The published variant whose preset differs from `config` in the fewest fields (ties: the first by name)."""
    return min(sorted(SIMTRACK_VARIANTS), key=lambda name: len(config_differences(config, name)))


def count_parameters(config: SimTrackConfig) -> int:
    """Parameters of a SimTrackModel for `config` (built on the meta device; BatchNorm statistics excluded)."""
    with torch.device("meta"):
        model = SimTrackModel(config)
    return sum(p.numel() for p in model.parameters())


def load_variant_data(cards_dir: Path = MODEL_CARDS_DIR) -> dict[str, Any]:
    path = Path(cards_dir) / "variants.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the model card data is missing from this installation")
    return json.loads(path.read_text())


def write_measured_flops(cards_dir: Path = MODEL_CARDS_DIR) -> dict[str, dict[str, int]]:
    """Re-measure every variant's FLOPs on the meta device and store them in variants.json."""
    data = load_variant_data(cards_dir)
    for name, entry in data["variants"].items():
        entry["flops"] = card_flops(SimTrackConfig.from_variant(name))
    data["flops_measured_with"]["torch"] = torch.__version__
    (Path(cards_dir) / "variants.json").write_text(json.dumps(data, indent=2) + "\n")
    return {name: entry["flops"] for name, entry in data["variants"].items()}


def _results_markdown(entry: dict[str, Any]) -> str:
    results = entry["paper_results"]
    if not results:
        return (
            f"Not available: no {entry['title']} weights were released, and its numbers in the paper could not be "
            "checked for this card."
        )
    table = "| " + " | ".join(results) + " |\n|" + "---|" * len(results) + "\n"
    table += "| " + " | ".join(f"{v:.1f}" for v in results.values()) + " |"
    return (
        f"{table}\n\nSource: {entry['results_source']}. These are the original authors' numbers (original code "
        "and weights); they were not re-measured for this upload unless the Weights section says so."
    )


def _eval_results(entry: dict[str, Any]) -> list[EvalResult]:
    """The paper's table as `model-index` entries ("LaSOT (AUC)" -> dataset LaSOT, metric AUC)."""
    results = []
    for column, value in (entry["paper_results"] or {}).items():
        dataset, metric = re.fullmatch(r"(.+) \((.+)\)", column).groups()
        name, _, split = dataset.partition(" ")
        results.append(EvalResult(
            task_type="visual-object-tracking", task_name="Visual Object Tracking",
            dataset_type=re.sub(r"[^a-z0-9]", "", name.lower()), dataset_name=dataset, dataset_split=split or None,
            metric_type=metric.lower(), metric_name=metric, metric_value=value,
            source_name="SimTrack, ECCV 2022 (the authors' weights)", source_url="https://arxiv.org/abs/2203.05328",
        ))
    return results


def _card_metadata(variant: str, entry: dict[str, Any], source: WeightsSource | None, custom: bool) -> str:
    """The card's YAML front matter (no pipeline_tag: see the module docstring)."""
    training = source.training if source is not None else None
    tags = ["visual-object-tracking", "single-object-tracking", "simtrack", "vision-transformer", "simtrack_hf"]
    if training is None:
        tags.insert(4, "clip")
    base = training["base"] if training else None
    data = ModelCardData(
        library_name="transformers",
        license=(base or {}).get("license") or "other" if training else "mit",
        base_model=(base or {}).get("hub_id") if training else entry["clip_model"] if not custom else None,
        tags=tags,
        datasets=sorted({*training["datasets"], *((base or {}).get("datasets") or [])}) or None if training
        else PAPER_DATASETS,
    )
    if not custom and (source is None or source.kind == "original") and entry["paper_results"]:
        data.model_name, data.eval_results = variant, _eval_results(entry)
    return data.to_yaml()


def _terms(source: WeightsSource | None) -> tuple[str, str]:
    """(data note, licence text) of the card: the paper's data and CLIP, or a training output's own."""
    training = source.training if source is not None else None
    if training is None:
        return ("The paper trains on LaSOT, GOT-10k, TrackingNet and COCO; their terms of use apply to weights "
                "trained on them.",
                "The code (the modelling files here and `simtrack_hf`) is MIT. The weights' license follows the "
                "original\nSimTrack release ([LPXTT/SimTrack](https://github.com/LPXTT/SimTrack)) and the OpenAI "
                "CLIP weights the\nbackbone was initialised from; check those terms before use.")
    base = training["base"]
    origin = (f"{base['name']} (licence: {base['license'] or 'not stated'}"
              + (f"; trained on {', '.join(base['datasets'])}" if base["datasets"] else "") + ")" if base
              else "a random initialisation")
    return (f"These weights were trained with `simtrack_hf` from {origin} on {training['data']}; the terms of that "
            "data and of the base apply to them.",
            f"The code (the modelling files here and `simtrack_hf`) is MIT. The weights derive from {origin} and "
            f"{training['data']}: the card's licence is the base's, and the data's terms apply too.")


def _fill(template: str, values: dict[str, Any]) -> str:
    def lookup(match: re.Match) -> str:
        if match.group(1) not in values:
            raise KeyError(f"model card template field {{{{{match.group(1)}}}}} has no value")
        return str(values[match.group(1)])

    return re.sub(r"\{\{(\w+)\}\}", lookup, template)


def render_card(
    variant: str,
    *,
    repo_id: str | None = None,
    weights_source: WeightsSource | None = None,
    config: SimTrackConfig | None = None,
    cards_dir: Path = MODEL_CARDS_DIR,
) -> str:
    """The model card of `variant`. Without `weights_source` the Weights section is a placeholder (committed cards).

    A `config` that differs from the preset makes a card of that custom model: its sizes, parameters and measured
    FLOPs, the differences listed, and no paper results or released weights (those belong to the preset)."""
    data = load_variant_data(cards_dir)
    entry = dict(data["variants"][variant])
    preset = SimTrackConfig.from_variant(variant)
    weights = weights_source.describe() if weights_source else WEIGHTS_PLACEHOLDER
    differences = config_differences(config, variant) if config is not None else {}
    described = config if differences else preset
    flops = card_flops(config) if differences else entry["flops"]
    if differences:
        listed = ", ".join(f"{k}={a!r} (preset {b!r})" for k, (a, b) in differences.items())
        weights += (f"\n\nA custom configuration, not the published {entry['title']} variant: {listed}. Every size, "
                    "parameter count and FLOP figure on this card is this upload's own.")
        entry.update(
            title=f"custom configuration ({config.hidden_size} wide, {config.num_hidden_layers} layers)",
            backbone="a CLIP-style ViT of this configuration", clip_model="null", paper_gflops=None,
            paper_results={}, released_weights="", sizes_source="this upload's `config.json`",
            caveat="This upload's sizes are its own configuration's, not a published variant's.",
            cpu_speed="not measured for this configuration (see `simtrack benchmark`)",
        )
    data_note, license_text = _terms(weights_source)
    o, f = described.foveal_window_offset, described.foveal_size
    foveal_shift = " (shifted by half a patch)" if described.foveal_shift else " (centred)"
    values = {
        **{k: getattr(described, k) for k in SIMTRACK_VARIANTS[variant]},
        **{k: v for k, v in entry.items() if isinstance(v, str)},
        "variant": "custom" if differences else variant,
        "metadata": _card_metadata(variant, entry, weights_source, bool(differences)),
        "requirements": " ".join(f"'{r}'" for r in remote_code_requirements()),
        "data_note": data_note,
        "license_text": license_text,
        "repo_id": repo_id or f"ORG/{variant}",
        "weights_source": "\n\n".join(part for part in (weights, entry["released_weights"]) if part),
        "template_grid": described.template_grid,
        "search_grid": described.search_grid,
        "foveal_grid": described.foveal_grid,
        "foveal_window": f"{o}..{o + f - 1}{foveal_shift}",
        "num_tokens": described.num_tokens,
        "parameters_m": f"{count_parameters(described) / 1e6:.1f}",
        "gflops": f"{flops['full_forward'] / 1e9:.1f}",
        "gmacs": f"{flops['full_forward'] / 2e9:.1f}",
        "gflops_frame": f"{flops['per_frame'] / 1e9:.1f}",
        "paper_flops_note": (
            f"The paper reports {entry['paper_gflops']} GFLOPs; tracking papers usually count multiply-adds as "
            f"FLOPs, so compare it with the {flops['full_forward'] / 2e9:.1f} G multiply-adds here."
            if entry["paper_gflops"] else "The paper's compute figure for this variant is not available here."
        ),
        "flops_command": data["flops_measured_with"]["command"],
        "flops_method": data["flops_measured_with"]["method"],
        "results": "Not applicable: the authors report results for their published variants, not for this custom "
                   "configuration." if differences else _results_markdown(entry),
    }
    return _fill((Path(cards_dir) / "template.md").read_text(), values)


def write_cards(cards_dir: Path = MODEL_CARDS_DIR) -> list[Path]:
    """Regenerate model_cards/<variant>.md for every variant (Weights section left as a placeholder)."""
    paths = []
    for variant in load_variant_data(cards_dir)["variants"]:
        path = Path(cards_dir) / f"{variant}.md"
        path.write_text(render_card(variant, cards_dir=cards_dir))
        paths.append(path)
    return paths


# -------------------------------------------------------------------------------------------- the folder
@contextmanager
def remote_code_registration() -> Iterator[None]:
    """`register_for_auto_class` on the config, model and processor classes for the duration of a save only.

    transformers keeps the registration on the class, so it is undone on exit: a plain `save_pretrained` elsewhere
    writes no code files and no `auto_map`.
    """
    with _REGISTRATION_LOCK:
        saved = {cls: cls.__dict__.get("_auto_class", _MISSING) for cls in AUTO_CLASSES}
        try:
            for cls, auto_class in AUTO_CLASSES.items():
                cls.register_for_auto_class(auto_class)
            yield
        finally:
            for cls, value in saved.items():
                if value is _MISSING:
                    delattr(cls, "_auto_class")
                else:
                    cls._auto_class = value


def export_for_hub(
    model: SimTrackModel,
    processor: SimTrackImageProcessor,
    variant: str,
    out_dir: str | os.PathLike,
    source: WeightsSource,
    *,
    repo_id: str | None = None,
    cards_dir: Path = MODEL_CARDS_DIR,
) -> list[str]:
    """Write the exact upload folder (weights, processor, remote code, card) and parity-check it.

    `out_dir` must be empty or absent. Returns the file names written.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: the upload folder must contain only what is uploaded")
    out.mkdir(parents=True, exist_ok=True)
    pipeline_module = VisualObjectTrackingPipeline.__module__.split(".")[-1]
    model.config.custom_pipelines = {TASK: {"impl": f"{pipeline_module}.{VisualObjectTrackingPipeline.__name__}",
                                            "pt": ["AutoModel"], "tf": [], "type": "image"}}
    try:
        with remote_code_registration():
            model.save_pretrained(out)
            processor.save_pretrained(out)
    finally:
        del model.config.custom_pipelines
    custom_object_save(VisualObjectTrackingPipeline, out)  # the pipeline file and the files it imports
    card = render_card(variant, repo_id=repo_id, weights_source=source, config=model.config, cards_dir=cards_dir)
    (out / "README.md").write_text(card)
    parity_check(model, out)
    return sorted(p.name for p in out.iterdir())


# ---------------------------------------------------------------------------------------------- the push
def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
) -> str:
    """Create the repo (and branch) if needed and upload `folder` in one commit; returns the commit URL.

    Stale weights, configs and code files of an earlier upload are deleted in the same commit.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        revision=revision,
        commit_message=commit_message or f"Upload SimTrack ({Path(folder).name})",
        delete_patterns=["*.safetensors", "*.bin", "*.py", "*.json"],
    )
    return str(getattr(info, "commit_url", info))


__all__ = [
    "AUTO_CLASSES", "MODEL_CARDS_DIR", "PROVENANCE_FILE", "REMOTE_CODE_PACKAGES", "UPLOAD_FILES", "WeightsSource",
    "config_differences", "count_parameters", "export_for_hub", "file_sha256", "load_variant_data", "load_weights",
    "nearest_variant", "push_folder", "read_provenance", "remote_code_registration",
    "remote_code_requirements", "render_card", "training_provenance", "write_cards", "write_measured_flops",
]
