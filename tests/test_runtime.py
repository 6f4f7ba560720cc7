"""CPU runtime choices: thread options on every command, SIMTRACK_NUM_THREADS, dtype resolution (bf16 only with
native bf16), the fp32 corner soft-argmax of a bf16 model, ONNX Runtime session options."""

from __future__ import annotations

import cv2
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackModel
from simtrack_hf.commands import COMMANDS, build_parser, main
from simtrack_hf.commands import train as train_command
from simtrack_hf.inference import runtime
from simtrack_hf.tools.export import example_inputs
from simtrack_hf.tools.speed import scale_heads


@pytest.fixture
def no_native_bf16(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))


def test_every_command_takes_threads():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert set(subcommands) == {command.name for command in COMMANDS}
    for name, parser in subcommands.items():
        assert "--threads" in parser._option_string_actions, name
    assert train_command.parse_args(["--threads", "1", "--output_dir", "x"])[1].output_dir == "x"  # scripts/train.py


@pytest.mark.parametrize("argv", [["benchmark", "--threads", "0"], ["track", "v.mp4", "--box", "1,2,3,4", "--threads",
                                                                      "-2"], ["evaluate", "--threads", "x"]])
def test_bad_thread_counts_are_one_line_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and "--threads: expected a positive integer" in err[-1]


def test_threads_option_and_environment(monkeypatch, restore_threads):
    assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert runtime.env_threads() == 2 and runtime.set_threads() == 2 and torch.get_num_threads() == 2
    assert runtime.set_threads(1) == 1  # an explicit count wins over the environment
    monkeypatch.setenv(runtime.THREADS_ENV, "")
    assert runtime.set_threads() == 1  # unset / empty: the count in use is left alone
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(runtime.THREADS_ENV, bad)
        with pytest.raises(ValueError, match="SIMTRACK_NUM_THREADS must be a positive integer"):
            runtime.set_threads()
    for bad in (0, -3, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            runtime.set_threads(bad)


def test_environment_threads_reach_a_command(monkeypatch, capsys, restore_threads):
    monkeypatch.setenv(runtime.THREADS_ENV, "0")
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "--variants", "nope"])
    assert exit_info.value.code == 2
    assert "SIMTRACK_NUM_THREADS must be a positive integer" in capsys.readouterr().err.splitlines()[-1]


def test_ort_session_options(monkeypatch, restore_threads):
    pytest.importorskip("onnxruntime")
    torch.set_num_threads(1)
    options = runtime.ort_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.setenv(runtime.ORT_SPINNING_ENV, "1")
    assert runtime.ort_session_options(2).get_session_config_entry("session.intra_op.allow_spinning") == "1"
    monkeypatch.setenv(runtime.ORT_SPINNING_ENV, "yes")
    with pytest.raises(ValueError, match="SIMTRACK_ORT_SPINNING must be 0 or 1"):
        runtime.ort_session_options()


def test_dtype_without_native_bf16(no_native_bf16):
    config = tiny_config()
    assert runtime.resolve_dtype("auto", "cpu", config) == torch.float32  # never bf16 without the instructions
    assert runtime.resolve_dtype(None, "cpu") is None
    assert runtime.resolve_dtype("fp32", "cpu") == torch.float32
    for dtype in ("bf16", "bfloat16", torch.bfloat16):
        with pytest.raises(ValueError, match="needs a CPU with native bf16"):
            runtime.resolve_dtype(dtype, "cpu")
    with pytest.raises(ValueError, match="float16 has no fast CPU kernels"):
        runtime.resolve_dtype("float16", "cpu")
    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16, float16"):
        runtime.resolve_dtype("int8", "cpu")


def test_auto_dtype_follows_the_measurement(native_bf16, monkeypatch):
    config = tiny_config(hidden_size=runtime.BF16_MIN_HIDDEN_SIZE)
    assert runtime.resolve_dtype("bf16", "cpu") == torch.bfloat16
    monkeypatch.setattr(runtime, "_bf16_is_faster", lambda *shape: True)
    assert runtime.resolve_dtype("auto", "cpu", config) == torch.bfloat16
    from simtrack_hf import DEFAULT_MODEL, SimTrackConfig

    small = SimTrackConfig.from_pretrained(DEFAULT_MODEL)  # width 128: measured slower in bf16 end to end
    assert runtime.resolve_dtype("auto", "cpu", small) == torch.float32
    monkeypatch.setattr(runtime, "_bf16_is_faster", lambda *shape: False)
    assert runtime.resolve_dtype("auto", "cpu", config) == torch.float32
    assert runtime.resolve_dtype("auto", "cpu") == torch.float32  # no model shape to measure: float32


def test_bf16_model_keeps_the_soft_argmax_in_float32():
    torch.manual_seed(0)
    model = scale_heads(SimTrackModel(tiny_config()).eval())
    inputs = example_inputs(model.config, 3)
    with torch.inference_mode():
        expected = model(**inputs)
        half = model.to(torch.bfloat16)(**{k: v.to(torch.bfloat16) for k, v in inputs.items()})
    assert expected.pred_boxes.std(0).max() > 1e-3  # boxes depend on the input: the comparison is not vacuous
    assert expected.pred_boxes.dtype == half.pred_boxes.dtype == half.scores.dtype == torch.float32
    assert half.corner_logits.dtype == torch.bfloat16
    torch.testing.assert_close(half.pred_boxes, expected.pred_boxes, atol=0.02, rtol=0)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    SimTrackModel(tiny_config()).save_pretrained(folder)
    return folder


def test_tracker_dtype_names(model_folder, no_native_bf16):
    from simtrack_hf import SimTrackTracker

    assert SimTrackTracker.from_pretrained(model_folder, torch_dtype="auto").dtype == torch.float32
    assert SimTrackTracker.from_pretrained(model_folder, torch_dtype="float32").dtype == torch.float32
    with pytest.raises(ValueError, match="needs a CPU with native bf16"):
        SimTrackTracker.from_pretrained(model_folder, torch_dtype="bfloat16")


def test_tracker_auto_dtype_with_native_bf16(model_folder, native_bf16, monkeypatch):
    from simtrack_hf import SimTrackTracker

    monkeypatch.setattr(runtime, "_bf16_is_faster", lambda *shape: True)
    monkeypatch.setattr(runtime, "BF16_MIN_HIDDEN_SIZE", tiny_config().hidden_size)
    tracker = SimTrackTracker.from_pretrained(model_folder, torch_dtype="auto")
    assert tracker.dtype == torch.bfloat16 and next(tracker.model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("command", [["track", "v.mp4", "--box", "1,2,3,4"], ["demo"], ["evaluate", "--root", "r",
                                                                                         "--dataset-format", "got10k"]])
def test_dtype_option_on_commands(command, capsys):
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert subcommands[command[0]].parse_args(command[1:] + ["--dtype", "auto"]).dtype == "auto"
    assert subcommands[command[0]].parse_args(command[1:]).dtype == "float32"  # the paper's arithmetic by default
    with pytest.raises(SystemExit):
        main([*command, "--dtype", "int8"])
    assert "invalid choice: 'int8'" in capsys.readouterr().err


def test_cli_bf16_without_native_bf16_is_one_line(model_folder, no_native_bf16, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), (torch.rand(48, 64, 3) * 255).byte().numpy())
    with pytest.raises(SystemExit) as exit_info:
        main(["track", str(frames), "--box", "10,10,20,20", "--model", str(model_folder), "--dtype", "bfloat16"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and "bfloat16 needs a CPU with native bf16" in err[-1]
