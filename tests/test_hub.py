"""Hub export (simtrack_hf.tools.hub, `simtrack push-to-hub`): cards, the upload folder, offline cache, remote code.

Nothing here contacts the Hub: loading goes through a local cache with HF_HUB_OFFLINE, and the push is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
from conftest import fixture_config, tiny_config
from huggingface_hub import ModelCard
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, CLIPVisionModel, pipeline

from simtrack_hf import SIMTRACK_VARIANTS, SimTrackConfig, SimTrackImageProcessor, SimTrackModel, SimTrackTracker
from simtrack_hf.commands import main
from simtrack_hf.loading import seeded_inputs
from simtrack_hf.tools import hub
from simtrack_hf.tools.speed import card_flops, count_flops

VARIANTS = sorted(SIMTRACK_VARIANTS)
TINY_WIDTH = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, head_hidden_size=16,
    head_channels=16, pos_embed_hidden_size=16,
)
REPO = "org/sim-b16"
BOX = [30, 20, 40, 30]


def add_to_hf_cache(
    folder: str | os.PathLike,
    repo_id: str,
    cache_dir: str | os.PathLike,
    commit_hash: str | None = None,
    refs: Sequence[str] = ("main",),
) -> str:
    """Copy a folder into a Hugging Face cache as snapshot `commit_hash` of `repo_id`, pointed to by `refs`.

    For offline machines and tests: `from_pretrained(repo_id, revision=ref or commit_hash)` then loads it with
    HF_HUB_OFFLINE=1. Returns the commit hash (by default a hash of the files).
    """
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    if commit_hash is None:
        digest = hashlib.sha1()
        for path in files:
            digest.update(path.name.encode() + path.read_bytes())
        commit_hash = digest.hexdigest()
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit_hash
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, snapshot / path.name)
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit_hash)  # no trailing newline, as huggingface_hub writes it
    return commit_hash


def push(argv: list[str]) -> None:
    main(["push-to-hub", *argv])


def frames(count: int = 3) -> list[np.ndarray]:
    base = np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    return [np.roll(base, 3 * i, axis=0) for i in range(count)]


def saved_tiny_model(folder: Path, seed: int, config: SimTrackConfig | None = None) -> SimTrackModel:
    torch.manual_seed(seed)
    model = SimTrackModel(config or tiny_config()).eval()
    model.save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(folder)
    return model


def boxes_of(model: SimTrackModel) -> torch.Tensor:
    with torch.inference_mode():
        return model(**seeded_inputs(model.config)).pred_boxes


def dry_run_folder(root: Path, config: SimTrackConfig | None = None) -> tuple[Path, SimTrackModel]:
    """The CLI's dry-run folder for a tiny trained model (`--from-folder`)."""
    model = saved_tiny_model(root / "trained", seed=0, config=config)
    argv = ["--variant", "sim-b16", "--repo-id", REPO, "--from-folder", str(root / "trained"),
            "--allow-config-mismatch", "--weights-note", "Tiny test model.", "--dry-run", str(root / "upload")]
    push(argv)
    return root / "upload", model


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[Path, SimTrackModel]:
    return dry_run_folder(tmp_path_factory.mktemp("hub"))


# ------------------------------------------------------------------------------------------------ cards
def test_committed_cards_equal_generated():
    for variant in VARIANTS:
        committed = (hub.MODEL_CARDS_DIR / f"{variant}.md").read_text()
        assert committed == hub.render_card(variant), f"run `python scripts/push_to_hub.py --write-cards` ({variant})"


@pytest.mark.parametrize("variant", VARIANTS)
def test_card_metadata_and_numbers(variant):
    card = ModelCard(hub.render_card(variant, repo_id="me/x"))
    meta = card.data.to_dict()
    assert meta["license"] == "mit" and "pipeline_tag" not in meta  # object-detection's pipeline cannot load it
    assert meta["library_name"] == "transformers" and meta["base_model"].startswith("openai/clip-vit-")
    tags = {"visual-object-tracking", "single-object-tracking", "simtrack", "vision-transformer", "clip"}
    assert tags <= set(meta["tags"])
    assert meta["datasets"] == ["lasot", "got10k", "trackingnet", "coco"]
    params = hub.count_parameters(SimTrackConfig.from_variant(variant))
    assert f"{params / 1e6:.1f} M parameters" in card.text and "weights-source" in card.text
    assert "2203.05328" in card.text and 'from_pretrained("me/x"' in card.text
    expected = {"sim-b16": ["69.3", "54.8", "82.3", "70.6", "69.8"],
                "sim-l14": ["70.5", "55.6", "83.4", "69.8", "71.2"]}
    if variant in expected:
        assert all(f" {v} |" in card.text for v in expected[variant])
        (index,) = meta["model-index"]
        assert index["name"] == variant
        values = {r["dataset"]["name"]: r["metrics"][0]["value"] for r in index["results"]}
        assert [str(v) for v in values.values()] == expected[variant] and "GOT-10k test" in values
    else:
        assert "Not available: no Sim-B/" in card.text and "model-index" not in meta
    requirements = re.search(r"pip install ((?:'[^']+' ?)+)", card.text).group(1)
    assert requirements.split() == ["'transformers>=5.18'", "'opencv-python-headless'", "'pillow'"]


def test_stored_flops_are_current_and_meta_equals_real():
    data = hub.load_variant_data()
    for variant in VARIANTS:
        assert card_flops(SimTrackConfig.from_variant(variant)) == data["variants"][variant]["flops"], variant
    config = tiny_config()
    config._attn_implementation = "eager"
    model = SimTrackModel(config).eval()
    assert card_flops(config) == {"full_forward": count_flops(config, model=model),
                                  "per_frame": count_flops(config, model=model, cached_template=True)}
    assert hub.count_parameters(config) == sum(p.numel() for p in SimTrackModel(config).parameters())


def test_card_of_a_model_trained_from_a_base_states_its_base_data_and_licence(tmp_path):
    """A training output records its base (here a folder with a card, as the default model) and data; its card
    says so, with the base's licence, and claims neither CLIP, the paper's datasets, MIT nor the paper's table."""
    base = tmp_path / "base"
    saved_tiny_model(base, seed=0)
    (base / "README.md").write_text("---\nlicense: cc-by-sa-4.0\ndatasets:\n- wallpapers\n---\n\n# My base model\n")
    trained = tmp_path / "trained"
    saved_tiny_model(trained, seed=1)
    provenance = hub.training_provenance(str(base), "photos:/data/photos", {"lost_threshold": 0.5})
    (trained / hub.PROVENANCE_FILE).write_text(json.dumps(provenance))
    push(["--variant", "sim-b16", "--repo-id", REPO, "--from-folder", str(trained), "--allow-config-mismatch",
          "--dry-run", str(tmp_path / "up")])
    card = ModelCard((tmp_path / "up" / "README.md").read_text())
    meta = card.data.to_dict()
    assert meta["license"] == "cc-by-sa-4.0" and meta["datasets"] == ["photos", "wallpapers"]
    assert "clip" not in meta["tags"] and "base_model" not in meta and "model-index" not in meta
    assert "from My base model" in card.text and "photos:/data/photos" in card.text and "LaSOT" not in card.text
    assert "OpenAI CLIP" not in card.text
    assert "{'lost_threshold': 0.5} were not carried over" in " ".join(card.text.split())


# ------------------------------------------------------------------------------------------- the folder
def test_dry_run_writes_exactly_the_upload(dry_run):
    folder, model = dry_run
    assert {p.name for p in folder.iterdir()} == hub.UPLOAD_FILES
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_simtrack.SimTrackConfig",
                                  "AutoModel": "modeling_simtrack.SimTrackModel"}
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    assert processor["auto_map"] == {"AutoImageProcessor": "image_processing_simtrack.SimTrackImageProcessor"}
    for name in ("modeling_simtrack.py", "image_processing_simtrack.py", "tracking_simtrack.py"):  # relative only
        assert not re.search(r"^\s*(from|import) simtrack_hf", (folder / name).read_text(), re.M)
    card = (folder / "README.md").read_text()
    assert "Trained with `simtrack_hf`" in card and "Tiny test model." in card and "weights-source" not in card
    assert "not the published Sim-B/16 variant" in card and f'from_pretrained("{REPO}"' in card
    assert torch.equal(boxes_of(SimTrackModel.from_pretrained(folder)), boxes_of(model))


def test_registration_is_scoped_to_the_export(dry_run, tmp_path):
    for cls in hub.AUTO_CLASSES:
        assert cls._auto_class is None and "_auto_class" not in cls.__dict__
    SimTrackModel(tiny_config()).save_pretrained(tmp_path)
    assert not list(tmp_path.glob("*.py")) and "auto_map" not in json.loads((tmp_path / "config.json").read_text())


def test_cli_refuses_mismatch_and_non_empty_folder(dry_run, tmp_path):
    saved_tiny_model(tmp_path / "trained", seed=0)
    with pytest.raises(SystemExit, match="not a sim-b16 model"):
        push(["--variant", "sim-b16", "--repo-id", REPO, "--from-folder", str(tmp_path / "trained"),
                  "--dry-run", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
    model, processor, source = hub.load_weights("sim-b16", from_folder=tmp_path / "trained", allow_config_mismatch=True)
    with pytest.raises(FileExistsError):
        hub.export_for_hub(model, processor, "sim-b16", dry_run[0], source)


def test_custom_config_folder_gets_a_card_of_its_own(tmp_path, capsys):
    model = saved_tiny_model(tmp_path / "trained", seed=0)  # a training output of a config that is no preset
    push(["--repo-id", REPO, "--from-folder", str(tmp_path / "trained"), "--dry-run", str(tmp_path / "up")])
    assert "custom configuration" in capsys.readouterr().out
    card = ModelCard((tmp_path / "up" / "README.md").read_text())
    params = sum(p.numel() for p in model.parameters())
    assert hub.count_parameters(model.config) == params
    assert f"{params / 1e6:.1f} M parameters" in card.text and "88.3 M" not in card.text
    assert "# SimTrack custom configuration (32 wide, 2 layers)" in card.text
    assert "Not applicable" in card.text and "69.3" not in card.text and "released Sim-B/16 weights" not in card.text
    gflops = card_flops(model.config)["full_forward"] / 1e9
    assert f"{gflops:.1f} GFLOPs" in card.text
    assert card.data.to_dict().get("base_model") is None
    assert torch.equal(boxes_of(SimTrackModel.from_pretrained(tmp_path / "up")), boxes_of(model))


def test_original_checkpoint_source(fixtures, tmp_path):
    checkpoint = tmp_path / "sim-vit-b-16.pth"
    torch.save(fixtures["tiny_b16"]["state_dict"], checkpoint)
    model, processor, source = hub.load_weights("sim-b16", checkpoint=checkpoint, config=fixture_config("tiny_b16"))
    assert source.kind == "original" and source.sha256 == hub.file_sha256(checkpoint)
    hub.export_for_hub(model, processor, "sim-b16", tmp_path / "up", source)
    assert f"sha256 `{source.sha256}`" in (tmp_path / "up" / "README.md").read_text()
    with pytest.raises(ValueError, match="does not fit"):
        hub.load_weights("sim-b16", checkpoint=checkpoint, config=fixture_config("tiny_b32"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_round_trips(variant, tmp_path):
    """CLIP-initialised dry run of each variant at tiny width (real patch/crop geometry); full-size config json."""
    full = SimTrackConfig.from_variant(variant)
    clip = CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=2,
                                            num_hidden_layers=3, patch_size=full.patch_size, image_size=224))
    clip.save_pretrained(tmp_path / "clip")
    model, processor, source = hub.load_weights(
        variant, clip=tmp_path / "clip", config=SimTrackConfig.from_variant(variant, **TINY_WIDTH))
    hub.export_for_hub(model, processor, variant, tmp_path / "up", source)  # includes the reload parity check
    assert "**Untrained head.**" in (tmp_path / "up" / "README.md").read_text()
    loaded = SimTrackConfig.from_pretrained(tmp_path / "up")
    restored = SimTrackConfig(**{**loaded.to_dict(), **{k: getattr(full, k) for k in TINY_WIDTH}})
    ignore = {"auto_map", "custom_pipelines", "architectures", "dtype", "transformers_version", "_name_or_path"}
    assert {k: v for k, v in restored.to_dict().items() if k not in ignore} == \
        {k: v for k, v in full.to_dict().items() if k not in ignore}

    with hub.remote_code_registration():
        full.save_pretrained(tmp_path / "full")
    assert json.loads((tmp_path / "full" / "config.json").read_text())["auto_map"]["AutoConfig"]
    assert SimTrackConfig.from_pretrained(tmp_path / "full").to_diff_dict() == full.to_diff_dict() | {
        "auto_map": {"AutoConfig": "configuration_simtrack.SimTrackConfig"}}


# ---------------------------------------------------------------------------------------- offline loading
def test_loads_from_offline_hub_cache(dry_run, tmp_path, monkeypatch):
    folder, model = dry_run
    cache = tmp_path / "cache"
    main_hash = add_to_hf_cache(folder, REPO, cache)
    other = saved_tiny_model(tmp_path / "other", seed=1)
    push(["--variant", "sim-b16", "--repo-id", REPO, "--from-folder", str(tmp_path / "other"),
              "--allow-config-mismatch", "--dry-run", str(tmp_path / "other_up")])
    other_hash = add_to_hf_cache(tmp_path / "other_up", REPO, cache, refs=("v2",))
    assert (cache / "models--org--sim-b16" / "refs" / "main").read_text() == main_hash
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))

    expected = {None: model, main_hash: model, "v2": other, other_hash: other}
    for revision, reference in expected.items():
        kwargs = {} if revision is None else {"revision": revision}
        assert torch.equal(boxes_of(SimTrackModel.from_pretrained(REPO, **kwargs)), boxes_of(reference)), revision
        assert SimTrackImageProcessor.from_pretrained(REPO, **kwargs).search_size == 128
        tracker = SimTrackTracker.from_pretrained(REPO, **kwargs)
        track = [r.boxes[0] for r in tracker.track_video(frames(), BOX)]
        pipe = pipeline("visual-object-tracking", model=REPO, device="cpu", trust_remote_code=True, **kwargs)
        out = [frame["objects"][0]["box"] for frame in pipe(frames(), box=BOX)]
        np.testing.assert_allclose([[o["xmin"], o["ymin"], o["xmax"] - o["xmin"], o["ymax"] - o["ymin"]] for o in out],
                                   track)
    with pytest.raises(OSError):
        SimTrackModel.from_pretrained("org/not-cached")


REMOTE_SCRIPT = """
import json, sys
sys.modules["simtrack_hf"] = None  # the package must not be importable
import numpy as np, torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoImageProcessor, AutoModel

folder, data = sys.argv[1], sys.argv[2]
config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
inputs = load_file(data + "/inputs.safetensors")
with torch.inference_mode():
    seeded = model(**inputs).pred_boxes.tolist()
first_frame, next_frame = np.load(data + "/first.npy"), np.load(data + "/next.npy")
x, y, w, h = BOX
with torch.inference_mode():
    exec(SNIPPET)
assert type(processor).__module__.startswith("transformers_modules")
print(json.dumps({"seeded": seeded, "card": box.tolist()}))
"""


@pytest.mark.parametrize("hybrid", [False, True], ids=["patch", "hybrid"])
def test_trust_remote_code_without_the_package(dry_run, tmp_path, hybrid):
    """The uploaded code alone (the hybrid CNN embedding included) loads and tracks as the package does."""
    folder, model = dry_run_folder(tmp_path / "hybrid", SimTrackConfig.from_variant("tiny-hybrid")) if hybrid else dry_run
    inputs = seeded_inputs(model.config)
    save_file(inputs, tmp_path / "inputs.safetensors")
    first, nxt = frames(2)
    np.save(tmp_path / "first.npy", first)
    np.save(tmp_path / "next.npy", nxt)
    card = (folder / "README.md").read_text()
    snippet = re.findall(r"```python\n(.*?)```", card, re.S)[-1].replace(f'"{REPO}"', "folder")
    script = REMOTE_SCRIPT.replace("BOX", repr(BOX)).replace("SNIPPET", repr(snippet))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(folder), str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(remote["seeded"], boxes_of(model).numpy(), atol=1e-6)
    tracker = SimTrackTracker(model)
    tracker.init(first, BOX)
    np.testing.assert_allclose(remote["card"], tracker.track(nxt).boxes, atol=1e-4)


# ------------------------------------------------------------------------------------------------- push
def fake_hub_api(calls: list) -> type:
    """An `HfApi` stand-in recording its calls; `upload_folder` checks the folder holds exactly the upload."""

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token, {}))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def create_branch(self, repo_id, **kwargs):
            calls.append(("create_branch", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            folder = Path(kwargs["folder_path"])
            assert {p.name for p in folder.iterdir()} == hub.UPLOAD_FILES
            kwargs["config"] = json.loads((folder / "config.json").read_text())
            kwargs["card"] = (folder / "README.md").read_text()
            calls.append(("upload_folder", kwargs["repo_id"], kwargs))
            return "https://example.invalid/commit/1"

    return FakeApi


def test_push_uses_create_repo_and_upload_folder(dry_run, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", fake_hub_api(calls))
    saved_tiny_model(tmp_path / "trained", seed=0)
    argv = ["--variant", "sim-b16", "--repo-id", REPO, "--from-folder", str(tmp_path / "trained"),
            "--allow-config-mismatch", "--private", "--branch", "v2", "--commit-message", "first"]
    push(argv)
    calls = calls[1:]
    assert [c[0] for c in calls] == ["create_repo", "create_branch", "upload_folder"]
    assert calls[0][2]["private"] is True and calls[1][2]["branch"] == "v2"
    assert calls[2][2]["revision"] == "v2" and calls[2][2]["commit_message"] == "first"


def test_trainer_push_to_hub_uploads_the_package_export(monkeypatch, tmp_path):
    """`SimTrackTrainer.push_to_hub` (what `--push_to_hub` runs) uploads code, auto_map, custom_pipelines and the
    card of the run (its base and data from the provenance file), not the bare weights."""
    from simtrack_hf.training import SimTrackTrainer, SimTrackTrainingArguments

    calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", fake_hub_api(calls))
    args = SimTrackTrainingArguments(output_dir=str(tmp_path / "run"), report_to="none", use_cpu=True,
                                     hub_model_id="me/my-tracker", hub_token="secret")
    model = SimTrackModel(tiny_config())
    trainer = SimTrackTrainer(model=model, args=args, processing_class=SimTrackImageProcessor.from_model_config(
        model.config))
    (tmp_path / "run").mkdir(exist_ok=True)
    (tmp_path / "run" / hub.PROVENANCE_FILE).write_text(json.dumps(hub.training_provenance(None, "got10k:/d")))
    assert trainer.push_to_hub() == "https://example.invalid/commit/1"
    (init, create, upload) = calls
    assert init[1] == "secret" and create[1] == upload[1] == "me/my-tracker"
    config = upload[2]["config"]
    assert config["auto_map"]["AutoModel"] == "modeling_simtrack.SimTrackModel"
    assert config["custom_pipelines"]["visual-object-tracking"]["impl"] == "pipeline_simtrack.VisualObjectTrackingPipeline"
    assert "from a random initialisation on `got10k:/d`" in upload[2]["card"]


CLEAN_ENV_SCRIPT = """
import json, sys
for name in json.loads(sys.argv[3]):
    sys.modules[name] = None  # not installed in this environment
import numpy as np
from transformers import pipeline

pipe = pipeline("visual-object-tracking", model=sys.argv[1], trust_remote_code=True, device="cpu")
print(json.dumps(pipe(list(np.load(sys.argv[2])), box=BOX)))
"""


def distributions_of(requirements: list[str]) -> set[str]:
    """The installed distributions `requirements` pull in (their dependency closure, no extras)."""
    import importlib.metadata

    from packaging.requirements import Requirement

    def key(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    seen, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        if key(requirement.name) in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(key(requirement.name))
        try:
            todo += [Requirement(r) for r in importlib.metadata.requires(requirement.name) or []]
        except importlib.metadata.PackageNotFoundError:
            pass
    return seen


def test_clean_torch_transformers_env_runs_the_export_with_what_the_card_lists(dry_run, tmp_path):
    """A child interpreter where only torch, transformers, what the card's Requirements section lists (and their
    dependencies) are importable runs the exported pipeline, with the same boxes as here."""
    import importlib.metadata

    folder, model = dry_run
    card = (folder / "README.md").read_text()
    listed = re.findall(r"'([^']+)'", re.search(r"pip install ((?:'[^']+' ?)+)", card).group(1))
    allowed = distributions_of(["torch", "transformers", *listed])
    blocked = sorted(module for module, dists in importlib.metadata.packages_distributions().items()
                     if not any(re.sub(r"[-_.]+", "-", d).lower() in allowed for d in dists))
    assert "simtrack_hf" in blocked and "gradio" in blocked
    np.save(tmp_path / "video.npy", np.stack(frames()))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    script = CLEAN_ENV_SCRIPT.replace("BOX", repr(BOX))
    result = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "video.npy"),
                             json.dumps(blocked)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    local = [r.boxes[0] for r in SimTrackTracker(model).track_video(frames(), BOX)]
    corners = [o["box"] for f in remote for o in f["objects"]]
    boxes = [[c["xmin"], c["ymin"], c["xmax"] - c["xmin"], c["ymax"] - c["ymin"]] for c in corners]
    np.testing.assert_allclose(boxes, local, atol=1e-4)

