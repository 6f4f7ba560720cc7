"""Shared test helpers: fixture loading and tiny configs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

from load_fixture import load_fixture  # noqa: E402

from simtrack_hf import SimTrackConfig  # noqa: E402


WITHOUT_SIMTRACK_HF = """
import importlib.abc, json, sys

class RefuseSimtrackHf(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "simtrack_hf" or name.startswith("simtrack_hf."):
            raise ImportError(f"{name} is not installed here")

sys.meta_path.insert(0, RefuseSimtrackHf())
"""
"""Child-interpreter prelude: `simtrack_hf` cannot be imported (as where only a Hub export or metric is)."""


def fixture_config(name: str, **overrides) -> SimTrackConfig:
    """The SimTrackConfig of a tiny fixture made by the original implementation."""
    c = load_fixture(name)["config"]
    arch = c["clip_arch"]
    return SimTrackConfig(
        hidden_size=arch["width"], num_hidden_layers=arch["layers"], num_attention_heads=arch["heads"],
        intermediate_size=4 * arch["width"], patch_size=c["patch_size"], template_size=c["template_size"],
        search_size=c["search_size"], foveal_size=c["foveal_size"], foveal_shift=name == "tiny_b32",
        head_hidden_size=c["hidden_dim"], head_channels=c["head_channel"], pos_embed_hidden_size=32,
        template_factor=c["template_factor"], search_factor=c["search_factor"], **overrides,
    )


def tiny_config(**overrides) -> SimTrackConfig:
    """A tiny random B/16-shaped config (fast on CPU)."""
    base = dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=16,
        template_size=64, search_size=128, foveal_size=32, head_hidden_size=16, head_channels=16,
        pos_embed_hidden_size=16,
    )
    return SimTrackConfig(**{**base, **overrides})


def tiny_inputs(config: SimTrackConfig, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t, s = config.template_size, config.search_size
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.1, 0.3, 0.6, 0.4], [0.3, 0.2, 0.3, 0.5]])[:batch]
    return {
        "template_pixel_values": torch.randn(batch, 3, t, t, generator=g),
        "search_pixel_values": torch.randn(batch, 3, s, s, generator=g),
        "template_boxes": boxes.repeat((batch + 2) // 3, 1)[:batch],
    }


@pytest.fixture(scope="session")
def fixtures():
    return {name: load_fixture(name) for name in ("tiny_b16", "tiny_b32")}


@pytest.fixture
def restore_threads():
    """Put PyTorch's and OpenCV's thread counts back after a test that sets them."""
    import cv2

    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(torch_threads)
    cv2.setNumThreads(cv2_threads)
