"""Speed: model-only and end-to-end tracker time, FLOPs, GFLOP/s, peak memory and the accuracy cost of every fast
path, per variant, backend and number of targets, against the fp32 PyTorch baseline of the same run.

`count_flops` is the one FLOP counter (`FlopCounterMode`, 2 per multiply-add, on a meta-device model unless one is
given); the model cards' numbers come from it too.

Backends: `eager` (PyTorch fp32, eager attention: the BASELINE, bit-identical to the original code, always run
first), `sdpa`, `compile` (torch.compile, slow first call), `cpu-bf16` (bf16 weights, CPUs with native bf16),
`onnxruntime` (exported fp32 step, `[onnx]` extra), `onnxruntime-int8` (dynamic int8, `export_onnx(quantize=
"int8")`), `cuda-fp16` / `cuda-bf16` (GPU only).
"model" times the per-frame step `(template, search, template boxes) -> (boxes, scores)` on ready crops (the
graph that is exported to ONNX, identical across backends); "tracker" times `SimTrackTracker.track` on 1280x720
RGB frames (crop, resize, normalise, forward, map back) with the tracker re-initialised on the first frame,
untimed, before each frame; the timed frames are that frame shifted by a few pixels (`moving_frames`), so the
targets move. "x fp32" = baseline tracker time / this tracker time (same variant and batch); "box dev px" = per
target and frame, the largest |coordinate difference| in pixels from the baseline's box on the same frame (median
and max). The random models get He-scaled heads (`scale_heads`) so that boxes follow the input. GFLOP/s = FLOPs
of the step / median model time, compared with a plain `torch.mm` of the model's MLP size measured in the run.
Memory: peak RSS while timing (Linux `/proc/self/clear_refs` resets it per backend; else `ru_maxrss`) and its
rise over the RSS before timing (Δ); on CUDA `torch.cuda.max_memory_allocated`.

`measure_accuracy` runs each backend on a trained model over a held-out benchmark (GOT-10k layout) and reports
success AUC and its difference from the fp32 baseline. `busy_processes(n)` runs n CPU-bound competitors.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import importlib.util
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..image_processing_simtrack import SimTrackImageProcessor
from ..inference.onnx_runtime import ONNX_FILE, OnnxSimTrackRunner, SimTrackStep
from ..inference.runtime import (
    ORT_SPINNING_ENV,
    bf16_is_faster,
    cpu_flags,
    has_native_bf16,
    matmul_gflops,
    resolve_dtype,
    set_threads,
    time_ms,
)
from ..inference.tracker import SimTrackTracker
from ..loading import load_config
from ..modeling_simtrack import SimTrackModel
from .export import export_onnx, quantize_onnx

BASELINE = "eager"
BACKENDS = ("eager", "sdpa", "compile", "cpu-bf16", "onnxruntime", "onnxruntime-int8", "cuda-fp16", "cuda-bf16")
_HALF = {"cpu-bf16": ("cpu", torch.bfloat16), "cuda-fp16": ("cuda", torch.float16),
         "cuda-bf16": ("cuda", torch.bfloat16)}
COLUMNS = (
    "variant", "backend", "device", "batch", "GFLOP/frame", "model ms p50", "tracker ms p50", "tracker ms p90",
    "ms/target", "tracker FPS", "x fp32", "box dev px p50", "box dev px max", "GFLOP/s", "% of matmul",
    "peak MiB", "Δ MiB", "setup s",
)
ACCURACY_COLUMNS = ("backend", "device", "success AUC", "Δ AUC vs fp32", "precision", "box dev px p50", "FPS")

__all__ = ["ACCURACY_COLUMNS", "BACKENDS", "BASELINE", "COLUMNS", "BenchmarkRow", "PeakMemory", "box_deviation",
           "busy_processes", "card_flops", "count_flops", "format_markdown", "machine_info", "matmul_gflops",
           "measure_accuracy", "measure_speed", "moving_frames", "scale_heads", "synthetic_frame", "target_boxes"]


@dataclass
class BenchmarkRow:
    """One variant x backend x batch measurement (times in ms, memory in MiB, FLOPs for all `batch` targets,
    box deviations in pixels from the baseline's boxes)."""

    variant: str
    backend: str
    device: str
    dtype: str
    batch: int
    frames: int
    flops_per_frame: int
    model_ms_p50: float
    model_ms_p90: float
    tracker_ms_p50: float
    tracker_ms_p90: float
    tracker_fps: float
    speedup: float
    box_dev_px_p50: float
    box_dev_px_max: float
    achieved_gflops: float
    matmul_gflops: float
    matmul_ratio: float
    peak_mib: float
    peak_delta_mib: float
    setup_s: float

    def cells(self) -> list[str]:
        """Markdown cells in `COLUMNS` order."""
        return [
            self.variant, self.backend, f"{self.device} {self.dtype}", str(self.batch),
            f"{self.flops_per_frame / 1e9:.2f}", f"{self.model_ms_p50:.1f}", f"{self.tracker_ms_p50:.1f}",
            f"{self.tracker_ms_p90:.1f}", f"{self.tracker_ms_p50 / self.batch:.1f}", f"{self.tracker_fps:.1f}",
            f"{self.speedup:.2f}", f"{self.box_dev_px_p50:.2f}", f"{self.box_dev_px_max:.2f}",
            f"{self.achieved_gflops:.1f}", f"{100 * self.matmul_ratio:.0f}",
            f"{self.peak_mib:.0f}", f"{self.peak_delta_mib:.0f}", f"{self.setup_s:.1f}",
        ]


# ------------------------------------------------------------------------------------------------ machine / FLOPs
def machine_info() -> dict[str, Any]:
    """CPU model, core counts, torch / onnxruntime versions, torch threads and the GPU (if any)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), cpu)
    except OSError:
        pass
    flags = cpu_flags()
    info: dict[str, Any] = {
        "cpu": cpu,
        "simd": [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f in flags],
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "ort_spinning": os.environ.get(ORT_SPINNING_ENV, "0"),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def _sdpa_flops(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, out_shape: Any = None,
                **kwargs: Any) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# FlopCounterMode (torch 2.13) has no formula for the CPU flash-attention kernel that SDPA runs on CPU: without
# this, a real CPU forward with SDPA would miss every attention matmul.
_EXTRA_FLOP_FORMULAS = {
    getattr(torch.ops.aten, name): _sdpa_flops
    for name in ("_scaled_dot_product_flash_attention_for_cpu",) if hasattr(torch.ops.aten, name)
}


def count_flops(config: SimTrackConfig, batch: int = 1, model: SimTrackModel | None = None,
                cached_template: bool = False) -> int:
    """FLOPs of one per-frame step (template tokens recomputed, as the exported step does), or with
    `cached_template` of the forward that reuses them (a tracker's later frames), for `batch` targets.

    Counted by `FlopCounterMode` on a meta-device model (nothing allocated) unless `model` is given.
    """
    device = "meta" if model is None else next(model.parameters()).device
    if model is None:
        with torch.device("meta"):
            model = SimTrackModel(config).eval()
    dtype = next(model.parameters()).dtype
    t, s = config.template_size, config.search_size
    template = torch.zeros(batch, 3, t, t, device=device, dtype=dtype)
    search = torch.zeros(batch, 3, s, s, device=device, dtype=dtype)
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.5]], dtype=dtype).expand(batch, 4).to(device)
    with torch.no_grad():
        cached = model.embeddings.embed_template(template, boxes) if cached_template else None
        with FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOP_FORMULAS) as counter:
            if cached is None:
                SimTrackStep(model)(template, search, boxes)
            else:
                model(search_pixel_values=search, template_embeddings=cached)
    return int(counter.get_total_flops())


def card_flops(config: SimTrackConfig) -> dict[str, int]:
    """The model cards' FLOPs at batch 1: `full_forward` (first frame) and `per_frame` (template tokens cached).

    Counted with eager attention, whose matmuls the counter sees on every device.
    """
    config = copy.deepcopy(config)
    config._attn_implementation = "eager"
    return {"full_forward": count_flops(config), "per_frame": count_flops(config, cached_template=True)}


# ------------------------------------------------------------------------------------------------ timing / memory
def p50_p90(times: Sequence[float]) -> tuple[float, float]:
    return float(statistics.median(times)), float(np.percentile(times, 90))


def _rss_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as file:
            line = next(line for line in file if line.startswith(field + ":"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return None


class PeakMemory:
    """Peak memory over a block: CUDA allocator peak, or peak RSS (reset through /proc when Linux allows it)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device) / 2**20
            return self
        self.start = _rss_mib("VmRSS") or 0.0
        try:
            with open("/proc/self/clear_refs", "w") as file:
                file.write("5")  # resets VmHWM (peak RSS) to the current RSS
            self.resettable = _rss_mib("VmHWM") is not None
        except OSError:
            self.resettable = False
        self.maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.resettable:
            self.peak = _rss_mib("VmHWM") or 0.0
        else:  # ru_maxrss (KiB on Linux) cannot be reset: only a rise above the earlier peak shows
            self.peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, self.maxrss_before)
        self.delta = max(0.0, self.peak - self.start)


# ------------------------------------------------------------------------------------------------ inputs
def synthetic_frame(height: int = 720, width: int = 1280, seed: int = 0) -> np.ndarray:
    """A smooth random RGB uint8 frame (a natural-image-like texture of the given size)."""
    import cv2

    coarse = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def target_boxes(count: int, height: int = 720, width: int = 1280) -> np.ndarray:
    """(count, 4) `[x, y, w, h]` boxes spread over the frame, each 3/32 x 1/8 of it (120x90 px at 720p)."""
    w, h = round(width * 3 / 32), round(height / 8)
    boxes = [[w / 2 + (i * 263) % (width - 2 * w), h / 2 + (i * 157) % (height - 2 * h), w, h] for i in range(count)]
    return np.array(boxes, dtype=np.float64)


def moving_frames(count: int, height: int = 720, width: int = 1280) -> list[np.ndarray]:
    """`synthetic_frame()` shifted by (3k, 5k) pixels (down, right), k = 1..count: the scene, hence the targets of
    `target_boxes`, moves by a few pixels per frame."""
    base = synthetic_frame(height, width)
    return [np.roll(base, (3 * k, 5 * k), axis=(0, 1)) for k in range(1, count + 1)]


def scale_heads(model: SimTrackModel, seed: int = 0) -> SimTrackModel:
    """He-normal weights (in place, seeded) for the bottleneck and the corner-head convolutions, the last ones
    x0.1: a random model whose heatmaps are neither flat nor one-hot, so its boxes move with the input."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in [("bottleneck.weight", model.bottleneck.weight),
                                *(("box_head." + n, p) for n, p in model.box_head.named_parameters())]:
            if parameter.ndim >= 2:
                std = (2 / parameter[0].numel()) ** 0.5 * (0.1 if ".conv5_" in name else 1.0)
                parameter.copy_(torch.randn(parameter.shape, generator=generator).to(parameter) * std)
    return model


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """Run `count` CPU-bound competitor processes (pure Python busy loops) for the duration of the block."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------ backends
def default_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def available_backends(device: torch.device) -> list[str]:
    """Backends that can run here (`compile` is left to an explicit request: its first call takes minutes)."""
    names = ["eager", "sdpa"]
    if has_native_bf16():
        names.append("cpu-bf16")
    if all(importlib.util.find_spec(module) for module in ("onnx", "onnxscript", "onnxruntime")):
        names += ["onnxruntime", "onnxruntime-int8"]
    if torch.cuda.is_available():
        names.append("cuda-fp16")
        if torch.cuda.is_bf16_supported():
            names.append("cuda-bf16")
    return names


def _prepare(backend: str, model: SimTrackModel, processor: SimTrackImageProcessor, workdir: str | Path) -> tuple[
    Callable[..., Any], SimTrackTracker, torch.device, torch.dtype
]:
    """-> (step callable taking the three inputs, tracker, device, dtype) for one backend. ONNX exports go to
    `workdir` (one per model: the int8 export quantizes the float32 one found there)."""
    device = next(model.parameters()).device
    if backend in ("eager", "sdpa"):
        model.set_attn_implementation(backend)
        return SimTrackStep(model), SimTrackTracker(model, processor), device, torch.float32
    if backend == "compile":
        compiled = copy.deepcopy(model)
        compiled.set_attn_implementation("sdpa")
        compiled.compile()
        return SimTrackStep(compiled), SimTrackTracker(compiled, processor), device, torch.float32
    if backend in ("onnxruntime", "onnxruntime-int8"):
        fp32 = Path(workdir) / "onnx-fp32" / ONNX_FILE
        if not fp32.is_file():
            export_onnx(copy.deepcopy(model) if device.type != "cpu" else model, fp32.parent, processor=processor)
        path = fp32 if backend == "onnxruntime" else quantize_onnx(fp32, Path(workdir) / "onnx-int8" / ONNX_FILE)
        runner = OnnxSimTrackRunner(path)
        ort_device = torch.device("cuda" if runner.session.get_providers()[0].startswith("CUDA") else "cpu")
        return runner, SimTrackTracker(runner, processor), ort_device, torch.float32
    if backend in _HALF:
        device_type, dtype = _HALF[backend]
        resolve_dtype(dtype, device_type)  # bf16 on a CPU without native bf16: a clear error
        half = copy.deepcopy(model).to(device_type, dtype)
        half.set_attn_implementation("sdpa")
        tracker = SimTrackTracker(half, processor, device=device_type, torch_dtype=dtype)
        return SimTrackStep(half), tracker, torch.device(device_type), dtype
    raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")


def _precision(backend: str, dtype: torch.dtype) -> str:
    """Table label of a backend's arithmetic: "int8" for the quantized export, else the dtype's name."""
    return "int8" if backend.endswith("-int8") else str(dtype).replace("torch.", "")


def box_deviation(boxes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(..., 4) xywh boxes -> (...) largest |coordinate difference| in pixels (as x1, y1, x2, y2)."""
    def corners(b: np.ndarray) -> np.ndarray:
        return np.concatenate((b[..., :2], b[..., :2] + b[..., 2:]), -1)

    return np.abs(corners(boxes) - corners(reference)).max(-1)


def benchmark_backend(
    name: str, model: SimTrackModel, prepared: tuple[Callable[..., Any], SimTrackTracker, torch.device, torch.dtype],
    backend: str, frames: int, warmup: int, batch: int, setup_s: float, matmul_cache: dict[tuple, float],
    baseline: dict[str, Any] | None,
) -> tuple[BenchmarkRow, np.ndarray]:
    """Time one prepared backend at `batch` targets; -> (row, tracker boxes (frames, batch, 4)). `baseline` holds
    the baseline's `tracker_ms_p50` and `boxes` at this batch (None when this is the baseline)."""
    config = model.config
    step, tracker, device, dtype = prepared
    processor = tracker.processor
    frame, boxes = synthetic_frame(), target_boxes(batch)
    shifted = moving_frames(frames)
    template = processor.preprocess(frame, boxes, crop="template")
    inputs = {
        "template_pixel_values": template["template_pixel_values"].to(device, dtype),
        "search_pixel_values": processor(frame, boxes, crop="search")["search_pixel_values"].to(device, dtype),
        "template_boxes": template["template_boxes"].to(device, dtype),
    }

    def run_step() -> Any:
        with torch.inference_mode():
            return step(**inputs)

    started = time.perf_counter()
    time_ms(run_step, 1, 0, device)  # cold call: compile / session warm-up belongs to setup
    setup_s += time.perf_counter() - started

    def run_tracker(next_frame: np.ndarray) -> tuple[float, np.ndarray]:
        tracker.init(frame, boxes)  # untimed: restores the boxes, so every frame starts from the same state
        start = time.perf_counter()
        result = tracker.track(next_frame)
        return 1e3 * (time.perf_counter() - start), result.boxes

    with PeakMemory(device) as memory:
        model_ms = time_ms(run_step, frames, warmup, device)
        for _ in range(warmup):
            run_tracker(shifted[0])
        timed = [run_tracker(f) for f in shifted]
    tracker_ms = [t for t, _ in timed]
    tracked = np.stack([b for _, b in timed])

    flops = count_flops(config, batch)
    mm_key = (batch * config.num_tokens, config.hidden_size, config.intermediate_size, device.type, dtype)
    if mm_key not in matmul_cache:
        matmul_cache[mm_key] = matmul_gflops(*mm_key[:3], device=device, dtype=dtype)
    model_p50, model_p90 = p50_p90(model_ms)
    tracker_p50, tracker_p90 = p50_p90(tracker_ms)
    deviation = box_deviation(tracked, baseline["boxes"]) if baseline else np.zeros(1)
    achieved = flops / (model_p50 / 1e3) / 1e9
    row = BenchmarkRow(
        variant=name, backend=backend, device=device.type, dtype=_precision(backend, dtype), batch=batch,
        frames=frames, flops_per_frame=flops, model_ms_p50=model_p50, model_ms_p90=model_p90,
        tracker_ms_p50=tracker_p50, tracker_ms_p90=tracker_p90, tracker_fps=1e3 / tracker_p50,
        speedup=(baseline["tracker_ms_p50"] if baseline else tracker_p50) / tracker_p50,
        box_dev_px_p50=float(np.median(deviation)), box_dev_px_max=float(deviation.max()),
        achieved_gflops=achieved, matmul_gflops=matmul_cache[mm_key], matmul_ratio=achieved / matmul_cache[mm_key],
        peak_mib=memory.peak, peak_delta_mib=memory.delta, setup_s=setup_s,
    )
    return row, tracked


def _label(spec: str | SimTrackConfig) -> str:
    """Table label of a variant spec: the name, the config file's stem or the folder's name."""
    if isinstance(spec, SimTrackConfig):
        return getattr(spec, "name_or_path", "") or "custom"
    return Path(spec).stem if os.path.exists(spec) else spec


def _check_backends(backends: Sequence[str]) -> None:
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")


def _with_baseline(backends: Sequence[str]) -> list[str]:
    """The baseline first, then the other backends in the given order."""
    return [BASELINE] + [b for b in backends if b != BASELINE]


def measure_speed(
    variants: Sequence[str | SimTrackConfig] = tuple(SIMTRACK_VARIANTS),
    backends: Sequence[str] | None = None,
    frames: int = 20,
    warmup: int = 3,
    batches: Sequence[int] = (1,),
    threads: int | None = None,
    device: str | None = None,
    competitors: int = 0,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, Any]:
    """Benchmark every variant (random weights, seed 0, `scale_heads`) with the fp32 baseline and every backend,
    at each number of targets in `batches`; returns machine info and rows.

    `backends=None` means every backend available here except `compile`; requested backends that cannot run
    (no GPU, no onnxruntime, no native bf16) are listed under "skipped". `device` (default: cuda when present) is
    where the eager / sdpa / compile backends run. `competitors` CPU-bound processes run beside the timing.
    """
    set_threads(threads)
    torch_device = default_device(device)
    possible = available_backends(torch_device) + ["compile"]
    backends = list(backends or available_backends(torch_device))
    _check_backends(backends)
    result: dict[str, Any] = {"machine": machine_info(), "rows": [], "skipped": [], "auto_dtype": {}}
    result["machine"].update(frames=frames, warmup=warmup, batches=list(batches), busy_processes=competitors)
    matmul_cache: dict[tuple, float] = {}
    with tempfile.TemporaryDirectory(prefix="simtrack-bench-") as workdir, busy_processes(competitors):
        for index, spec in enumerate(variants):
            name = _label(spec)
            config = spec if isinstance(spec, SimTrackConfig) else load_config(spec)
            result["auto_dtype"][name] = str(resolve_dtype("auto", torch_device, config)).replace("torch.", "")
            torch.manual_seed(0)
            model = scale_heads(SimTrackModel(config).eval()).to(torch_device)
            baselines: dict[int, dict[str, Any]] = {}
            for backend in _with_baseline(backends):
                if backend not in possible:
                    result["skipped"].append({"variant": name, "backend": backend, "reason": "not available here"})
                    log(f"skip {name} / {backend}: not available here")
                    continue
                started = time.perf_counter()
                processor = SimTrackImageProcessor.from_model_config(config)
                prepared = _prepare(backend, model, processor, Path(workdir) / str(index))
                setup_s = time.perf_counter() - started
                for batch in batches:
                    log(f"{name} / {backend}: {frames} frames after {warmup} warm-up, {batch} target(s)")
                    row, boxes = benchmark_backend(name, model, prepared, backend, frames, warmup, batch, setup_s,
                                                   matmul_cache, baselines.get(batch))
                    if backend == BASELINE:
                        baselines[batch] = {"tracker_ms_p50": row.tracker_ms_p50, "boxes": boxes}
                    result["rows"].append(asdict(row))
                del prepared
                gc.collect()
            del model
            gc.collect()
    return result


# ------------------------------------------------------------------------------------------------ accuracy
def measure_accuracy(
    model_path: str | os.PathLike,
    root: str | os.PathLike,
    backends: Sequence[str] | None = None,
    max_sequences: int | None = None,
    batch_sequences: int = 8,
    device: str | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, Any]:
    """Success AUC of the trained model `model_path` on the held-out benchmark `root` (GOT-10k layout, read as
    "synthetic") with the baseline and each backend; -> {"model", "root", "sequences", "rows"}.

    Each row: backend, device (with dtype), auc, delta_auc (vs the fp32 baseline), precision, box_dev_px_p50 (median
    over all frames of the largest corner difference from the baseline's box, after whole-sequence tracking) and
    fps. Backends that cannot run here are left out.
    """
    from ..data.benchmarks import read_benchmark
    from ..evaluation.runner import track_benchmark
    from ..evaluation.scoring import evaluate_results
    from ..loading import load_pretrained

    torch_device = default_device(device)
    possible = available_backends(torch_device) + ["compile"]
    backends = list(backends or available_backends(torch_device))
    _check_backends(backends)
    sequences = read_benchmark("synthetic", root)[:max_sequences]
    model = load_pretrained(model_path).to(torch_device)
    try:
        processor = SimTrackImageProcessor.from_pretrained(model_path)
    except OSError:
        processor = SimTrackImageProcessor.from_model_config(model.config)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="simtrack-accuracy-") as workdir:
        dirs = {}
        for backend in [b for b in _with_baseline(backends) if b in possible]:
            log(f"accuracy / {backend}: {len(sequences)} sequences of {root}")
            _, tracker, backend_device, dtype = _prepare(backend, model, processor, Path(workdir) / "exports")
            dirs[backend] = Path(workdir) / backend
            runs[backend] = track_benchmark(tracker, sequences, dirs[backend], batch_sequences=batch_sequences,
                                            resume=False, progress=False)
            rows.append({"backend": backend, "device": f"{backend_device.type} {_precision(backend, dtype)}"})
        evaluations = evaluate_results(sequences, dirs)
    base = evaluations[BASELINE].scores.auc
    for row in rows:
        evaluation = evaluations[row["backend"]]
        deviation = np.concatenate([box_deviation(runs[row["backend"]][s.name].boxes, runs[BASELINE][s.name].boxes)
                                    for s in sequences])
        row.update(auc=evaluation.scores.auc, delta_auc=evaluation.scores.auc - base,
                   precision=evaluation.scores.precision, box_dev_px_p50=float(np.median(deviation)),
                   fps=evaluation.fps)
    return {"model": str(model_path), "root": str(root), "sequences": len(sequences), "rows": rows}


# ------------------------------------------------------------------------------------------------ report
def format_markdown(result: dict[str, Any]) -> str:
    """Machine header, one table row per speed measurement, then the accuracy table when there is one."""
    m = result["machine"]
    auto = ", ".join(f"{name} {dtype}" for name, dtype in result.get("auto_dtype", {}).items())
    lines = [
        f"Machine: {m['cpu']} ({' '.join(m['simd']) or 'no SIMD flags read'}), {m['logical_cores']} logical cores "
        f"({m['usable_cores']} usable), "
        f"GPU: {m['gpu'] or 'none'}; torch {m['torch']}, {m['threads']} threads, onnxruntime {m['onnxruntime']}; "
        f"OMP_WAIT_POLICY={m['omp_wait_policy']}, {ORT_SPINNING_ENV}={m['ort_spinning']}, "
        f"{m['busy_processes']} busy competitor process(es); {m['frames']} timed frames after {m['warmup']} "
        f"warm-up; targets per frame {', '.join(map(str, m['batches']))}; dtype='auto' picks: {auto or '-'}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in result["rows"]:
        lines.append("| " + " | ".join(BenchmarkRow(**row).cells()) + " |")
    for skipped in result.get("skipped", []):
        lines.append(f"\nSkipped {skipped['variant']} / {skipped['backend']}: {skipped['reason']}.")
    accuracy = result.get("accuracy")
    if accuracy:
        lines += [
            "", f"Accuracy: {accuracy['model']} on {accuracy['root']} ({accuracy['sequences']} sequences, one-pass, "
            "pytracking convention; box dev = median over frames of the largest corner difference from fp32):", "",
            "| " + " | ".join(ACCURACY_COLUMNS) + " |",
            "|" + "|".join("---" for _ in ACCURACY_COLUMNS) + "|",
        ]
        for row in accuracy["rows"]:
            cells = [row["backend"], row["device"], f"{row['auc']:.2f}", f"{row['delta_auc']:+.2f}",
                     f"{row['precision']:.2f}", f"{row['box_dev_px_p50']:.2f}", f"{row['fps']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
