"""Training recipe: optimiser groups, step schedule, logged metrics, init_from detection, resume and 2-process DDP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import fixture_config, tiny_config
from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.convert_simtrack import convert_original_state_dict
from simtrack_hf.modeling_simtrack import SimTrackModel
from simtrack_hf.commands import train as train_command
from simtrack_hf.loading import load_config, load_model
from simtrack_hf.training import SimTrackTrainer, SimTrackTrainingArguments, build_dataset, plan_training
from simtrack_hf.training.trainer import StepDecay, simtrack_param_groups, unwrapped_name

REPO = Path(__file__).resolve().parents[1]
# tiny synthetic data + tiny model; every run shares one synthetic dataset folder
TINY_FLAGS = ["--variant", "tiny", "--samples_per_epoch", "16", "--synthetic_sequences", "3",
              "--synthetic_frames", "24", "--per_device_train_batch_size", "2", "--disable_tqdm", "true",
              "--report_to", "none", "--use_cpu", "true", "--dataloader_pin_memory", "false"]


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("train_data") / "synthetic")


def make_trainer(tmp_path, **kwargs) -> SimTrackTrainer:
    args = SimTrackTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, **kwargs)
    return SimTrackTrainer(model=SimTrackModel(tiny_config()), args=args)


def test_optimizer_param_groups(tmp_path):
    trainer = make_trainer(tmp_path)
    optimizer = trainer.create_optimizer()
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert {name: g["lr"] for name, g in groups.items()} == pytest.approx(
        {"head": 1e-4, "pos_fc": 1e-4, "backbone": 1e-5})
    assert all(g["weight_decay"] == 1e-4 for g in groups.values())  # on every parameter, norms and biases too
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    members = {name: {names[id(p)] for p in g["params"]} for name, g in groups.items()}
    assert sum(len(m) for m in members.values()) == len(names)  # a partition of all parameters
    assert all(n.startswith(("bottleneck.", "box_head.")) for n in members["head"])
    assert "bottleneck.weight" in members["head"] and "box_head.conv5_tl.weight" in members["head"]
    assert members["pos_fc"] == {n for n in names.values() if n.startswith("embeddings.pos_fc.")}
    for name in ("embeddings.patch_embedding.weight", "embeddings.class_embedding",
                 "embeddings.position_embedding.weight", "encoder.layers.0.self_attn.q_proj.weight",
                 "pre_layrnorm.bias"):
        assert name in members["backbone"]


def test_step_decay_at_80_percent(tmp_path):
    trainer = make_trainer(tmp_path, learning_rate=2e-4)
    trainer.create_optimizer()
    scheduler = trainer.create_scheduler(num_training_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append([g["lr"] for g in trainer.optimizer.param_groups])
        trainer.optimizer.step()
        scheduler.step()
    assert lrs[:8] == [pytest.approx([2e-4, 2e-4, 2e-5])] * 8
    assert lrs[8:] == [pytest.approx([2e-5, 2e-5, 2e-6])] * 2
    assert trainer.args.max_grad_norm == 0.1 and not trainer.args.remove_unused_columns
    assert not trainer.args.average_tokens_across_devices and trainer.args.ddp_find_unused_parameters is False


def test_lr_drop_in_epochs_of_pairs(tmp_path):
    """--lr_drop_epoch 40 with 60000 pairs per epoch and 512 per step (8 GPUs x 64): the drop after step 4688."""
    trainer = make_trainer(tmp_path, per_device_train_batch_size=2, gradient_accumulation_steps=3, lr_drop_epoch=4)
    trainer.train_dataset = type("Pairs", (), {"samples_per_epoch": 15})()  # 15 pairs per epoch, 6 per step
    trainer.create_optimizer()
    schedule = trainer.create_scheduler(num_training_steps=50).lr_lambdas[0]
    assert (schedule.drop_step, schedule(9), schedule(10)) == (10, 1.0, 0.1)  # 4 x 15 / 6 = 10, not 80 % of 50
    assert round(40 * 60000 / 512) == 4688
    trainer.lr_scheduler, trainer.train_dataset = None, None
    with pytest.raises(ValueError, match="lr_drop_epoch needs a pair dataset"):
        trainer.create_scheduler(num_training_steps=50)
    with pytest.raises(ValueError, match="lr_drop_epoch must be > 0"):
        make_trainer(tmp_path, lr_drop_epoch=0)


def test_explicit_optim_and_scheduler_are_honoured(tmp_path):
    """--optim / --lr_scheduler_type other than the recipe's are built over the recipe's three groups, not replaced
    by AdamW and the step decay; lr_drop_epoch with another schedule is refused in one line."""
    trainer = make_trainer(tmp_path, optim="sgd", lr_scheduler_type="cosine", learning_rate=1e-2)
    optimizer = trainer.create_optimizer()
    assert type(optimizer) is torch.optim.SGD
    assert {g["name"]: g["lr"] for g in optimizer.param_groups} == pytest.approx(
        {"head": 1e-2, "pos_fc": 1e-2, "backbone": 1e-3})
    scheduler = trainer.create_scheduler(num_training_steps=10)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([5e-3, 5e-3, 5e-4])  # half-way down a cosine
    recipe = make_trainer(tmp_path)
    assert (recipe.args.optim, recipe.args.lr_scheduler_type) == ("adamw_torch", "constant")
    assert type(recipe.create_optimizer()) is torch.optim.AdamW
    assert isinstance(recipe.create_scheduler(num_training_steps=10).lr_lambdas[0], StepDecay)
    fused = make_trainer(tmp_path, optim="adamw_torch_fused").create_optimizer()
    assert fused.defaults["fused"] and len(fused.param_groups) == 3
    with pytest.raises(ValueError, match="lr_drop_epoch applies to the step schedule"):
        make_trainer(tmp_path, lr_scheduler_type="linear", lr_drop_epoch=4)


def test_wrapped_parameter_names_keep_their_groups():
    """FSDP v1 / checkpointing / compile wrappers prefix names (`_fsdp_wrapped_module.`): the groups ignore them."""

    class Wrapper(torch.nn.Module):
        def __init__(self, inner, name):
            super().__init__()
            setattr(self, name, inner)

    model = SimTrackModel(tiny_config())
    wrapped = Wrapper(Wrapper(model, "_fsdp_wrapped_module"), "_orig_mod")
    groups = {g["name"]: len(g["params"]) for g in simtrack_param_groups(wrapped, 1e-4)}
    assert groups == {g["name"]: len(g["params"]) for g in simtrack_param_groups(model, 1e-4)}
    assert groups["backbone"] < sum(groups.values()) - groups["pos_fc"]
    assert unwrapped_name("_fsdp_wrapped_module.encoder._fsdp_wrapped_module.layers.0._checkpoint_wrapped_module."
                          "mlp.fc1.weight") == "encoder.layers.0.mlp.fc1.weight"


def test_degenerate_intervals_are_reported_as_such(tmp_path):
    """GIoU / IoU are averaged over the non-degenerate predictions; an interval where every prediction was
    degenerate logs degenerate_boxes 1.0 and no giou_loss (not a falling 0)."""
    trainer = make_trainer(tmp_path, per_device_train_batch_size=2)
    model = trainer.model.train()
    batch = {"template_pixel_values": torch.randn(2, 3, 64, 64), "search_pixel_values": torch.randn(2, 3, 128, 128),
             "template_boxes": torch.tensor([[0.25, 0.25, 0.5, 0.5]] * 2),
             "labels": torch.tensor([[0.5, 0.5, 0.2, 0.2]] * 2)}
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    trainer.log({"loss": float(loss.detach())})
    entry = trainer.state.log_history[-1]
    degenerate = int(outputs.loss_dict["num_degenerate"])
    assert entry["degenerate_boxes"] == degenerate / 2 and ("giou_loss" in entry) == (degenerate < 2)
    trainer._metric_sums += torch.tensor([0.3, 0.0, 0.0, 1.0, 0.0, 2.0])  # one step, both predictions degenerate
    trainer.log({"loss": 1.0})
    entry = trainer.state.log_history[-1]
    assert entry["degenerate_boxes"] == 1.0 and entry["l1_loss"] == 0.3
    assert "giou_loss" not in entry and "mean_iou" not in entry


def test_default_num_workers_follows_the_cpu_share(tmp_path, monkeypatch):
    from simtrack_hf.training import default_num_workers

    for cores, local_processes, workers in ((96, 8, 8), (32, 8, 3), (16, 1, 8), (2, 1, 0), (24, 8, 0)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cores: set(range(n)), raising=False)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local_processes))
        assert default_num_workers() == workers, (cores, local_processes)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert make_trainer(tmp_path).args.dataloader_num_workers == 8  # 24 cores, one process: the default follows them
    assert make_trainer(tmp_path, dataloader_num_workers=0).args.dataloader_num_workers == 0


@pytest.mark.slow
def test_bf16_gradient_accumulation_and_compile_with_the_recipe(tmp_path, synthetic_dir):
    """--bf16, --gradient_accumulation_steps and --torch_compile together through the training entry (CPU; the
    compile backend aot_eager traces the same graph as inductor without generating code)."""
    trainer = train_command.main([
        *TINY_FLAGS, "--synthetic-dir", synthetic_dir, "--output-dir", str(tmp_path / "run"), "--max-steps", "2",
        "--logging-steps", "1", "--save-strategy", "no", "--bf16", "true", "--gradient-accumulation-steps", "2",
        "--torch-compile", "true", "--torch-compile-backend", "aot_eager", "--lr-drop-epoch", "0.25",
    ])
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 2 and all(torch.isfinite(torch.tensor(entry["loss"])) for entry in logs)
    assert [entry["data_epoch"] for entry in logs] == [0.25, 0.5]  # 2 x 2 pairs per step, 16 per epoch
    assert [entry["learning_rate"] for entry in logs] == pytest.approx([1e-4, 1e-5])  # dropped after 1 step
    assert trainer.args.bf16 and trainer.accelerator.mixed_precision == "bf16"


def test_plan_training_virtual_length(tmp_path):
    args = SimTrackTrainingArguments(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4,
                                     num_train_epochs=3)
    assert plan_training(args, samples_per_epoch=10) == (8, 4) and args.max_steps == -1  # args left as they are
    args.max_steps = 5
    assert plan_training(args, samples_per_epoch=100) == (5, 1)


def test_load_config_and_load_model(tmp_path, fixtures):
    assert load_config("tiny").hidden_size == 32
    assert load_config("sim-b16", '{"num_hidden_layers": 2}').num_hidden_layers == 2
    # SimTrack save_pretrained folder
    model = SimTrackModel(tiny_config())
    model.save_pretrained(tmp_path / "simtrack")
    loaded = load_model(tmp_path / "simtrack", load_config("sim-b16"))  # the folder's own config wins
    assert loaded.config.hidden_size == 32
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    # original checkpoint file
    config = fixture_config("tiny_b16")
    torch.save({"net": fixtures["tiny_b16"]["state_dict"]}, tmp_path / "original.pth.tar")
    converted = convert_original_state_dict(fixtures["tiny_b16"]["state_dict"], config)
    state = load_model(tmp_path / "original.pth.tar", config).state_dict()
    assert all(torch.equal(state[k], v) for k, v in converted.items())
    # CLIP vision folder
    from transformers import CLIPVisionConfig, CLIPVisionModel

    clip = CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, image_size=128, patch_size=16))
    clip.save_pretrained(tmp_path / "clip")
    from_clip = load_model(tmp_path / "clip", load_config("tiny"))
    assert torch.equal(from_clip.embeddings.patch_embedding.weight, clip.embeddings.patch_embedding.weight)
    with pytest.raises(ValueError):
        load_model(tmp_path / "missing", load_config("tiny"))


def test_train_script_logs_metrics_and_saves_processor(tmp_path, synthetic_dir):
    train = train_command
    out = tmp_path / "run"
    trainer = train.main([*TINY_FLAGS, "--synthetic-dir", synthetic_dir, "--output-dir", str(out),
                          "--max-steps", "2", "--logging-steps", "1", "--save-steps", "2"])
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 2
    assert all({"l1_loss", "degenerate_boxes", "data_epoch"} <= set(entry) for entry in logs)
    assert all(({"giou_loss", "mean_iou"} <= set(entry)) == (entry["degenerate_boxes"] < 1) for entry in logs)
    for folder in (out, out / "checkpoint-2"):
        assert (folder / "model.safetensors").is_file()
        processor = SimTrackImageProcessor.from_pretrained(folder)
        assert (processor.template_size, processor.search_size) == (64, 128)
    assert SimTrackModel.from_pretrained(out).config.hidden_size == 32
    # --data with ratios (dash spelling), on the synthetic GOT-10k folder the run above wrote
    sim, args = train.parse_args([*TINY_FLAGS, "--data", f"got10k:{synthetic_dir},got10k:{synthetic_dir}:3",
                                  "--output-dir", str(tmp_path / "data_run"), "--max-steps", "1",
                                  "--manifest-cache-dir", str(tmp_path / "cache")])
    dataset = build_dataset(sim, args, processor)
    assert dataset.probabilities.tolist() == [0.25, 0.75] and len(dataset) == 16


def test_short_run_logs_metrics_caches_synthetic_data_and_names_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMTRACK_HF_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    trainer = train_command.main([*TINY_FLAGS, "--output_dir", str(out), "--max_steps", "3", "--save_strategy", "no"])
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 3  # 3 steps without --logging_steps: one log per step, not none (the default is 500)
    assert all({"l1_loss", "degenerate_boxes"} <= set(entry) for entry in logs)
    assert all(({"giou_loss", "mean_iou"} <= set(entry)) == (entry["degenerate_boxes"] < 1) for entry in logs)
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"saved the trained model and its processor to {out.resolve()}")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == []  # no data inside the output folder
    rendered = tmp_path / "cache" / "synthetic" / "got10k-seed0-3x24"
    assert len((rendered / "train" / "list.txt").read_text().split()) == 3


def test_entry_refuses_what_it_cannot_do_in_one_line(tmp_path):
    """A published variant from random weights needs --from_scratch; --eval_strategy has nothing to evaluate."""
    with pytest.raises(ValueError, match=r"sim-b16 without --init_from would start from random weights \(88.3 M"):
        train_command.main(["--data", "got10k:/nowhere", "--output_dir", str(tmp_path / "a"), "--use_cpu", "true"])
    with pytest.raises(ValueError, match="--eval_strategy steps: simtrack train has no evaluation set"):
        train_command.main([*TINY_FLAGS, "--eval_strategy", "steps", "--output_dir", str(tmp_path / "b")])
    sim, _ = train_command.parse_args(["--variant", "sim-b16", "--from_scratch", "true"])
    assert sim.from_scratch


def test_fine_tuning_drops_calibrated_options_and_records_its_base(tmp_path, synthetic_dir, caplog):
    base = tmp_path / "base"
    SimTrackModel(tiny_config(tracking_options={"lost_threshold": 0.5, "max_scale_change": 1.03})).save_pretrained(base)
    (base / "README.md").write_text("---\nlicense: cc-by-sa-4.0\n---\n\n# The base\n")
    out = tmp_path / "run"
    with caplog.at_level("INFO", logger="simtrack_hf.train"):
        train_command.main([*TINY_FLAGS, "--synthetic_dir", synthetic_dir, "--init_from", str(base), "--output_dir",
                            str(out), "--max_steps", "1", "--save_strategy", "no"])
    assert "not carrying over" in caplog.text and f"from {base} on synthetic videos" in caplog.text
    assert SimTrackModel.from_pretrained(out).config.tracking_options is None
    provenance = json.loads((out / "simtrack_training.json").read_text())
    assert provenance["base"]["license"] == "cc-by-sa-4.0" and provenance["base"]["name"] == "The base"
    assert provenance["dropped_tracking_options"] == {"lost_threshold": 0.5, "max_scale_change": 1.03}


@pytest.mark.slow
def test_resume_matches_uninterrupted_run(tmp_path, synthetic_dir):
    train = train_command
    common = [*TINY_FLAGS, "--synthetic_dir", synthetic_dir, "--max_steps", "4", "--save_steps", "2",
              "--logging_steps", "2"]
    train.main([*common, "--output_dir", str(tmp_path / "full")])
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(tmp_path / "full" / "checkpoint-2", resumed / "checkpoint-2")
    train.main([*common, "--output_dir", str(resumed), "--resume_from_checkpoint", "last"])
    full = load_file(tmp_path / "full" / "model.safetensors")
    again = load_file(resumed / "model.safetensors")
    assert full.keys() == again.keys()
    middle = load_file(resumed / "checkpoint-2" / "model.safetensors")
    assert any(not torch.equal(full[k], middle[k]) for k in full)  # the resumed run did train
    for key in full:
        torch.testing.assert_close(again[key], full[key], rtol=1e-6, atol=1e-7, msg=key)


DDP_SCRIPT = """
import hashlib, json, os, sys
import torch
from simtrack_hf.commands import train
from simtrack_hf.training import TrackingPairDataset

seen = []
draw = TrackingPairDataset.__getitem__
def recording_getitem(self, index):
    item = draw(self, index)
    seen.append([int(index), hashlib.sha1(item["search_pixel_values"].numpy().tobytes()).hexdigest()])
    return item
TrackingPairDataset.__getitem__ = recording_getitem

trainer = train.main(sys.argv[1:])
rank = trainer.args.process_index
model = trainer.accelerator.unwrap_model(trainer.model)
torch.save({{k: v.detach().clone() for k, v in model.named_parameters()}}, os.path.join({out!r}, f"params{{rank}}.pt"))
with open(os.path.join({out!r}, f"rank{{rank}}.json"), "w") as f:
    json.dump({{"world_size": trainer.args.world_size, "steps": trainer.state.global_step, "seen": seen}}, f)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_cpu_training_with_accelerate_launch(tmp_path, synthetic_dir):
    launcher = Path(sys.executable).parent / "accelerate"
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(out=str(tmp_path))))
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "PYTHONPATH": str(REPO / "src")}
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(script),
           *TINY_FLAGS, "--synthetic_dir", synthetic_dir, "--output_dir", str(tmp_path / "run"), "--max_steps", "3",
           "--save_strategy", "no", "--logging_steps", "1"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    indices = [{i for i, _ in r["seen"]} for r in ranks]
    hashes = [{h for _, h in r["seen"]} for r in ranks]
    assert len(indices[0]) >= 6 and not indices[0] & indices[1]  # the sampler split the indices...
    assert not hashes[0] & hashes[1]  # ...so the ranks drew different pairs
    assert [r["steps"] for r in ranks] == [3, 3]
    p0, p1 = (torch.load(tmp_path / f"params{r}.pt") for r in (0, 1))
    assert p0.keys() == p1.keys() and len(p0) > 10
    for key in p0:
        assert torch.equal(p0[key], p1[key]), key  # DDP kept the replicas identical


KILL_WHILE_SAVING = """
import os, signal, sys
from transformers import Trainer
from simtrack_hf.commands import main

save_rng_state = Trainer._save_rng_state
def killed_at_step_4(self, output_dir):  # runs after the weights, optimizer and scheduler, before trainer_state.json
    if self.state.global_step == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    save_rng_state(self, output_dir)
Trainer._save_rng_state = killed_at_step_4
main(["train", *sys.argv[1:]])
"""


@pytest.mark.slow
def test_killed_while_saving_resumes_from_the_previous_complete_checkpoint(tmp_path, synthetic_dir, caplog,
                                                                          restore_threads):
    torch.set_num_threads(1)  # as the killed child (OMP_NUM_THREADS=1): bit-equal weights need one summation order
    common = [*TINY_FLAGS, "--synthetic_dir", synthetic_dir, "--max_steps", "6", "--save_steps", "2",
              "--logging_steps", "2"]
    train_command.main([*common, "--output_dir", str(tmp_path / "full")])
    killed = tmp_path / "killed"
    script = tmp_path / "kill_while_saving.py"
    script.write_text(KILL_WHILE_SAVING)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, str(script), *common, "--output_dir", str(killed)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr[-3000:]  # SIGKILL, in the middle of writing checkpoint-4
    assert (killed / "checkpoint-4" / "model.safetensors").is_file()
    assert not (killed / "checkpoint-4" / "trainer_state.json").exists()
    with caplog.at_level("WARNING", logger="simtrack_hf.training.workspace"):
        trainer = train_command.main([*common, "--output_dir", str(killed), "--resume_from_checkpoint", "last"])
    assert "skipping incomplete checkpoint" in caplog.text and "checkpoint-4" in caplog.text
    assert trainer.state.global_step == 6
    full, again = load_file(tmp_path / "full" / "model.safetensors"), load_file(killed / "model.safetensors")
    assert full.keys() == again.keys()
    for key in full:
        assert torch.equal(again[key], full[key]), key
