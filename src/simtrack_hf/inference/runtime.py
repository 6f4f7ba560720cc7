"""CPU runtime choices: thread counts that survive a busy machine, and the inference dtype (bf16 where it pays).

Threads: `set_threads(n)` sets PyTorch's and OpenCV's thread pools (ONNX Runtime sessions made afterwards follow
`torch.get_num_threads()`); the library applies ``SIMTRACK_NUM_THREADS`` on import. Importing `simtrack_hf`
before `torch` also defaults ``OMP_WAIT_POLICY`` to ``PASSIVE`` (see `simtrack_hf/__init__.py`): OpenMP threads
that spin-wait fight any other CPU-bound process for the cores, and one step of a small model then took 80x
longer on 2 shared cores. ONNX Runtime sessions likewise do not spin (`ORT_SPINNING_ENV` overrides).

Dtype: `resolve_dtype("auto", device, config)` gives bfloat16 on a CPU with native bf16 instructions
(``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo) when a matmul of the model's MLP shape is measured faster in
bf16 than in fp32, float16 on CUDA, and float32 otherwise. Asking for bf16 on a CPU without native bf16 (where it
is emulated, ~5x slower) or for fp16 on a CPU (no kernels) is an error. The corner head's softmax and soft-argmax
always run in fp32 (`SimTrackCornerHead`).
"""

from __future__ import annotations

import functools
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from ..configuration_simtrack import SimTrackConfig

logger = logging.getLogger(__name__)

THREADS_ENV = "SIMTRACK_NUM_THREADS"
ORT_SPINNING_ENV = "SIMTRACK_ORT_SPINNING"
DTYPE_NAMES = {
    "float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
"""What `--dtype` accepts (`resolve_dtype` also takes the short names fp32 / bf16 / fp16 and torch dtypes)."""

__all__ = ["BF16_MIN_HIDDEN_SIZE", "DTYPE_CHOICES", "ORT_SPINNING_ENV", "THREADS_ENV", "bf16_is_faster", "cpu_count",
           "cpu_flags", "env_threads", "has_native_bf16", "matmul_gflops", "ort_session_options", "resolve_dtype",
           "set_threads", "time_ms"]


# ------------------------------------------------------------------------------------------------ threads
def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _check_threads(threads: Any, source: str) -> int:
    """`threads` (an int or a string of digits) as an int >= 1, else a one-line ValueError naming `source`; more
    than `cpu_count` is capped there with a logged notice (thousands of threads crawl, 100000 crash)."""
    text = str(threads).strip()
    if isinstance(threads, bool) or not text.isdigit() or int(text) < 1:
        raise ValueError(f"{source} must be a positive integer (threads), got {threads!r}")
    cpus = cpu_count()
    if int(text) > cpus:
        logger.warning("%s %s is more than the %d CPUs here: using %d threads", source, text, cpus, cpus)
        return cpus
    return int(text)


def env_threads() -> int | None:
    """Threads from ``SIMTRACK_NUM_THREADS`` (None when unset or empty; ValueError when not a positive integer)."""
    text = os.environ.get(THREADS_ENV, "").strip()
    return _check_threads(text, THREADS_ENV) if text else None


def set_threads(threads: int | None = None) -> int:
    """Use `threads` (default: ``SIMTRACK_NUM_THREADS``, else leave PyTorch's count) for PyTorch and OpenCV;
    returns the count in use. ONNX Runtime sessions created afterwards use it too."""
    threads = _check_threads(threads, "threads") if threads is not None else env_threads()
    if threads is not None:
        import cv2

        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    return torch.get_num_threads()


def ort_session_options(threads: int | None = None) -> Any:
    """ONNX Runtime session options: `threads` intra-op threads (default `torch.get_num_threads()`) that sleep
    instead of spinning between ops unless ``SIMTRACK_ORT_SPINNING=1``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = _check_threads(threads, "threads") if threads is not None else torch.get_num_threads()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    spinning = os.environ.get(ORT_SPINNING_ENV, "0").strip()
    if spinning not in ("0", "1"):
        raise ValueError(f"{ORT_SPINNING_ENV} must be 0 or 1, got {spinning!r}")
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
    return options


# ------------------------------------------------------------------------------------------------ timing
def time_ms(fn: Callable[[], Any], frames: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of `frames` calls of `fn` after `warmup` untimed calls (CUDA synchronised)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return times


def matmul_gflops(m: int, k: int, n: int, device: torch.device, dtype: torch.dtype, repeats: int = 10) -> float:
    """GFLOP/s of `torch.mm` (m,k) @ (k,n): the machine's reference for dense layers of this size."""
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    times = time_ms(lambda: torch.mm(a, b), repeats, warmup=3, device=device)
    return 2 * m * k * n / (statistics.median(times) / 1e3) / 1e9


# ------------------------------------------------------------------------------------------------ dtype
@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as file:
            return frozenset(next((line.split(":", 1)[1].split() for line in file if line.startswith("flags")), []))
    except OSError:
        return frozenset()


def has_native_bf16() -> bool:
    """Whether the CPU has bf16 instructions (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


@functools.cache
def _bf16_is_faster(m: int, k: int, n: int, threads: int) -> bool:
    cpu = torch.device("cpu")
    fp32, bf16 = (matmul_gflops(m, k, n, cpu, dtype, repeats=5) for dtype in (torch.float32, torch.bfloat16))
    return bf16 > 1.2 * fp32


BF16_MIN_HIDDEN_SIZE = 768
"""The narrowest model `dtype="auto"` runs in bf16 on a CPU: Sim-B/16 (width 768) measured 1.5-2.0x faster in bf16,
the default model (width 128) 0.83x (casts and small ops outweigh its small matmuls; README, "Speed")."""


def bf16_is_faster(config: SimTrackConfig, batch: int = 1) -> bool:
    """Whether bf16 should run this model faster on this CPU: native bf16, a width of at least
    `BF16_MIN_HIDDEN_SIZE`, and a matmul of the model's MLP shape (`batch` x tokens, hidden, intermediate) > 1.2x
    faster in bf16 than fp32 here (measured once per shape and thread count, ~10 ms)."""
    if not has_native_bf16() or config.hidden_size < BF16_MIN_HIDDEN_SIZE:
        return False
    return _bf16_is_faster(batch * config.num_tokens, config.hidden_size, config.intermediate_size,
                           torch.get_num_threads())


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device | None,
                  config: SimTrackConfig | None = None) -> torch.dtype | None:
    """`dtype` ("auto", a name such as "bf16", a torch dtype, or None = keep the model's) -> a torch dtype or None.

    "auto": CUDA float16; CPU bfloat16 when `bf16_is_faster(config)` (native bf16, a wide enough model, a faster
    matmul), else float32.
    Raises ValueError for bf16 on a CPU without native bf16 and for fp16 on a CPU.
    """
    if dtype is None:
        return None
    device = torch.device(device or "cpu")
    if isinstance(dtype, str):
        if dtype == "auto":
            if device.type != "cpu":
                return torch.float16 if device.type == "cuda" else torch.float32
            faster = config is not None and bf16_is_faster(config)
            return torch.bfloat16 if faster else torch.float32
        if dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)} (or fp32 / bf16 / fp16), got {dtype!r}")
        dtype = DTYPE_NAMES[dtype]
    if device.type == "cpu" and dtype == torch.bfloat16 and not has_native_bf16():
        raise ValueError("bfloat16 needs a CPU with native bf16 (avx512_bf16 or amx_bf16); this one has neither: "
                         "use float32 or dtype='auto'")
    if device.type == "cpu" and dtype == torch.float16:
        raise ValueError("float16 has no fast CPU kernels: use bfloat16 (native bf16 CPUs), float32 or 'auto'")
    return dtype
