"""Speed: model-only and end-to-end tracker time, FLOPs, GFLOP/s and peak memory per variant and backend.

`count_flops` is the one FLOP counter (`FlopCounterMode`, 2 per multiply-add, on a meta-device model unless one is
given); the model cards' numbers come from it too.

Backends: `eager` / `sdpa` (PyTorch attention implementations), `compile` (torch.compile, slow first call),
`onnxruntime` (exported per-frame step, needs the `[onnx]` extra), `cuda-fp16` / `cuda-bf16` (GPU only).
"model" times the per-frame step `(template, search, template boxes) -> (boxes, scores)` on ready crops (the
graph that is exported to ONNX, identical across backends); "tracker" times `SimTrackTracker.track` on a
1280x720 RGB frame (crop, resize, normalise, forward, map back) with the tracker re-initialised, untimed,
before each frame so every frame crops the same boxes. GFLOP/s = FLOPs of the step / median model time,
compared with a plain `torch.mm` of the size of the model's MLP layers measured in the same run.
Memory: peak RSS while timing (Linux `/proc/self/clear_refs` resets it per backend; else `ru_maxrss`) and its
rise over the RSS before timing (Δ); on CUDA `torch.cuda.max_memory_allocated`.
"""

from __future__ import annotations

import copy
import gc
import importlib.util
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..convert_simtrack import load_config
from ..image_processing_simtrack import SimTrackImageProcessor
from ..inference.onnx_runtime import OnnxSimTrackRunner, SimTrackStep
from ..inference.tracker import SimTrackTracker
from ..modeling_simtrack import SimTrackModel
from .export import export_onnx

BACKENDS = ("eager", "sdpa", "compile", "onnxruntime", "cuda-fp16", "cuda-bf16")
COLUMNS = (
    "variant", "backend", "device", "batch", "GFLOP/frame", "model ms p50", "model ms p90", "tracker ms p50",
    "tracker ms p90", "tracker FPS", "GFLOP/s", "matmul GFLOP/s", "% of matmul", "peak MiB", "Δ MiB", "setup s",
)

__all__ = ["BACKENDS", "COLUMNS", "BenchmarkRow", "card_flops", "count_flops", "format_markdown", "machine_info",
           "matmul_gflops", "measure_speed", "synthetic_frame", "target_boxes"]


@dataclass
class BenchmarkRow:
    """One variant x backend measurement (times in ms, memory in MiB, FLOPs for all `batch` targets)."""

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
            f"{self.flops_per_frame / 1e9:.2f}", f"{self.model_ms_p50:.1f}", f"{self.model_ms_p90:.1f}",
            f"{self.tracker_ms_p50:.1f}", f"{self.tracker_ms_p90:.1f}", f"{self.tracker_fps:.1f}",
            f"{self.achieved_gflops:.1f}", f"{self.matmul_gflops:.1f}", f"{100 * self.matmul_ratio:.0f}",
            f"{self.peak_mib:.0f}", f"{self.peak_delta_mib:.0f}", f"{self.setup_s:.1f}",
        ]


# ------------------------------------------------------------------------------------------------ machine / FLOPs
def machine_info() -> dict[str, Any]:
    """CPU model, core counts, torch / onnxruntime versions, torch threads and the GPU (if any)."""
    cpu, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as file:
            lines = file.read().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
        flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "simd": [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f in flags],
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
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
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], Any], frames: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of `frames` calls of `fn` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(1e3 * (time.perf_counter() - start))
    return times


def p50_p90(times: Sequence[float]) -> tuple[float, float]:
    return float(statistics.median(times)), float(np.percentile(times, 90))


def matmul_gflops(m: int, k: int, n: int, device: torch.device, dtype: torch.dtype, repeats: int = 10) -> float:
    """GFLOP/s of `torch.mm` (m,k) @ (k,n): the machine's reference for dense layers of this size."""
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    times = time_ms(lambda: torch.mm(a, b), repeats, warmup=3, device=device)
    return 2 * m * k * n / (statistics.median(times) / 1e3) / 1e9


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


# ------------------------------------------------------------------------------------------------ backends
def default_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def available_backends(device: torch.device) -> list[str]:
    """Backends that can run here (`compile` is left to an explicit request: its first call takes minutes)."""
    names = ["eager", "sdpa"]
    if all(importlib.util.find_spec(module) for module in ("onnx", "onnxscript", "onnxruntime")):
        names.append("onnxruntime")
    if torch.cuda.is_available():
        names.append("cuda-fp16")
        if torch.cuda.is_bf16_supported():
            names.append("cuda-bf16")
    return names


def _prepare(backend: str, model: SimTrackModel, processor: SimTrackImageProcessor, workdir: str) -> tuple[
    Callable[..., Any], Any, torch.device, torch.dtype
]:
    """-> (step callable taking the three inputs, tracker, device, dtype) for one backend."""
    device = next(model.parameters()).device
    if backend in ("eager", "sdpa"):
        model.set_attn_implementation(backend)
        return SimTrackStep(model), SimTrackTracker(model, processor), device, torch.float32
    if backend == "compile":
        compiled = copy.deepcopy(model)
        compiled.set_attn_implementation("sdpa")
        compiled.compile()
        return SimTrackStep(compiled), SimTrackTracker(compiled, processor), device, torch.float32
    if backend == "onnxruntime":
        folder = Path(tempfile.mkdtemp(prefix="onnx-", dir=workdir))  # one per variant: sessions may map files
        export_onnx(copy.deepcopy(model) if device.type != "cpu" else model, folder, processor=processor)
        runner = OnnxSimTrackRunner(folder)
        ort_device = torch.device("cuda" if runner.session.get_providers()[0].startswith("CUDA") else "cpu")
        return runner, SimTrackTracker(runner, processor), ort_device, torch.float32
    if backend in ("cuda-fp16", "cuda-bf16"):
        dtype = torch.float16 if backend == "cuda-fp16" else torch.bfloat16
        half = copy.deepcopy(model).to("cuda", dtype)
        half.set_attn_implementation("sdpa")
        tracker = SimTrackTracker(half, processor, device="cuda", torch_dtype=dtype)
        return SimTrackStep(half), tracker, torch.device("cuda"), dtype
    raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")


def benchmark_backend(
    name: str, model: SimTrackModel, backend: str, frames: int, warmup: int, batch: int, workdir: str,
    matmul_cache: dict[tuple, float],
) -> BenchmarkRow:
    """Time one backend on one (already built) model."""
    config = model.config
    processor = SimTrackImageProcessor.from_model_config(config)
    frame, boxes = synthetic_frame(), target_boxes(batch)
    started = time.perf_counter()
    step, tracker, device, dtype = _prepare(backend, model, processor, workdir)
    template = processor.preprocess(frame, boxes, crop="template")
    inputs = {
        "template_pixel_values": template["pixel_values"].to(device, dtype),
        "search_pixel_values": processor.preprocess(frame, boxes, crop="search")["pixel_values"].to(device, dtype),
        "template_boxes": template["template_boxes"].to(device, dtype),
    }

    def run_step() -> Any:
        with torch.inference_mode():
            return step(**inputs)

    time_ms(run_step, 1, 0, device)  # cold call: compile / session warm-up belongs to setup
    setup_s = time.perf_counter() - started

    def run_tracker() -> Any:
        tracker.init(frame, boxes)  # untimed: restores the boxes, so every frame crops the same regions
        start = time.perf_counter()
        tracker.track(frame)
        return time.perf_counter() - start

    with PeakMemory(device) as memory:
        model_ms = time_ms(run_step, frames, warmup, device)
        for _ in range(warmup):
            run_tracker()
        tracker_ms = [1e3 * run_tracker() for _ in range(frames)]

    flops = count_flops(config, batch)
    mm_key = (batch * config.num_tokens, config.hidden_size, config.intermediate_size, device.type, dtype)
    if mm_key not in matmul_cache:
        matmul_cache[mm_key] = matmul_gflops(*mm_key[:3], device=device, dtype=dtype)
    model_p50, model_p90 = p50_p90(model_ms)
    tracker_p50, tracker_p90 = p50_p90(tracker_ms)
    achieved = flops / (model_p50 / 1e3) / 1e9
    return BenchmarkRow(
        variant=name, backend=backend, device=device.type, dtype=str(dtype).replace("torch.", ""), batch=batch,
        frames=frames, flops_per_frame=flops, model_ms_p50=model_p50, model_ms_p90=model_p90,
        tracker_ms_p50=tracker_p50, tracker_ms_p90=tracker_p90, tracker_fps=1e3 / tracker_p50,
        achieved_gflops=achieved, matmul_gflops=matmul_cache[mm_key], matmul_ratio=achieved / matmul_cache[mm_key],
        peak_mib=memory.peak, peak_delta_mib=memory.delta, setup_s=setup_s,
    )


def _label(spec: str | SimTrackConfig) -> str:
    """Table label of a variant spec: the name, the config file's stem or the folder's name."""
    if isinstance(spec, SimTrackConfig):
        return getattr(spec, "name_or_path", "") or "custom"
    return Path(spec).stem if os.path.exists(spec) else spec


def measure_speed(
    variants: Sequence[str | SimTrackConfig] = tuple(SIMTRACK_VARIANTS),
    backends: Sequence[str] | None = None,
    frames: int = 20,
    warmup: int = 3,
    batch: int = 1,
    threads: int | None = None,
    device: str | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, Any]:
    """Benchmark every variant (random weights, seed 0) with every backend; returns machine info and rows.

    `backends=None` means every backend available here except `compile`; requested backends that cannot run
    (no GPU, no onnxruntime) are listed under "skipped". `device` (default: cuda when present) is where the
    eager / sdpa / compile backends run.
    """
    if threads:
        torch.set_num_threads(threads)
        import cv2

        cv2.setNumThreads(threads)
    torch_device = default_device(device)
    possible = available_backends(torch_device) + ["compile"]
    backends = list(backends or available_backends(torch_device))
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    result: dict[str, Any] = {"machine": machine_info(), "rows": [], "skipped": []}
    result["machine"].update(frames=frames, warmup=warmup, batch=batch)
    matmul_cache: dict[tuple, float] = {}
    with tempfile.TemporaryDirectory(prefix="simtrack-bench-") as workdir:
        for spec in variants:
            name = _label(spec)
            config = spec if isinstance(spec, SimTrackConfig) else load_config(spec)
            torch.manual_seed(0)
            model = SimTrackModel(config).eval().to(torch_device)
            for backend in backends:
                if backend not in possible:
                    result["skipped"].append({"variant": name, "backend": backend, "reason": "not available here"})
                    log(f"skip {name} / {backend}: not available here")
                    continue
                log(f"{name} / {backend}: {frames} frames after {warmup} warm-up, batch {batch}")
                row = benchmark_backend(name, model, backend, frames, warmup, batch, workdir, matmul_cache)
                result["rows"].append(asdict(row))
                gc.collect()
            del model
            gc.collect()
    return result


def format_markdown(result: dict[str, Any]) -> str:
    """Machine header and one table row per measurement."""
    m = result["machine"]
    lines = [
        f"Machine: {m['cpu']} ({' '.join(m['simd']) or 'no SIMD flags read'}), {m['logical_cores']} logical cores "
        f"({m['usable_cores']} usable), "
        f"GPU: {m['gpu'] or 'none'}; torch {m['torch']}, {m['threads']} threads, onnxruntime {m['onnxruntime']}; "
        f"{m['frames']} timed frames after {m['warmup']} warm-up, {m['batch']} target(s) per frame.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in result["rows"]:
        lines.append("| " + " | ".join(BenchmarkRow(**row).cells()) + " |")
    for skipped in result.get("skipped", []):
        lines.append(f"\nSkipped {skipped['variant']} / {skipped['backend']}: {skipped['reason']}.")
    return "\n".join(lines)
