"""Target-relevant attention maps of the search region (the paper's Fig. 4), per layer, as PNG grids.

For each layer the attention weights (eager attention, averaged over heads) from the template tokens to the
search tokens are averaged over template tokens weighted by R, the share of each template patch covered by the
target box. The result shows where in the search region the *target* looks, layer by layer.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import torch

from .configuration_simtrack import SimTrackConfig


def target_attention_maps(
    attentions: tuple[torch.Tensor, ...], relevance: torch.Tensor, config: SimTrackConfig
) -> torch.Tensor:
    """Per-layer attention of the target's template tokens over the search tokens.

    Args:
        attentions: L tensors (B, heads, tokens, tokens) from `SimTrackModel(..., output_attentions=True)`.
        relevance: (B, tz²) non-negative weight of each template token (R, the patch share covered by the box).
        config: the model config (token layout).

    Returns:
        (B, L, sz, sz) maps, each scaled to [0, 1].
    """
    tz2, sz = config.template_grid**2, config.search_grid
    weights = relevance / relevance.sum(-1, keepdim=True).clamp(min=1e-12)
    maps = []
    for layer in attentions:
        template_to_search = layer.mean(1)[:, :tz2, tz2 + 1 : tz2 + 1 + sz * sz]  # (B, tz², sz²)
        maps.append((template_to_search * weights[..., None]).sum(1))
    maps = torch.stack(maps, 1).reshape(relevance.shape[0], len(attentions), sz, sz)
    low = maps.amin((-2, -1), keepdim=True)
    high = maps.amax((-2, -1), keepdim=True)
    return (maps - low) / (high - low).clamp(min=1e-12)


def attention_grid(maps: np.ndarray, crop: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(L, h, w) maps in [0, 1] overlaid on an (S, S, 3) RGB crop -> one RGB image, one tile per layer."""
    size = crop.shape[0]
    columns = math.ceil(math.sqrt(len(maps)))
    rows = math.ceil(len(maps) / columns)
    grid = np.zeros((rows * size, columns * size, 3), np.uint8)
    for i, heat in enumerate(maps):
        heat = cv2.resize(np.asarray(heat, np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        tile = cv2.addWeighted(crop, 1 - alpha, colour, alpha, 0)
        cv2.putText(tile, f"layer {i + 1}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(i, columns)
        grid[r * size : (r + 1) * size, c * size : (c + 1) * size] = tile
    return grid


def save_attention_grid(maps: np.ndarray, crop: np.ndarray, path: str | os.PathLike) -> None:
    """Write `attention_grid(maps, crop)` as a PNG (RGB in, correct colours out)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(str(path), attention_grid(maps, crop)[..., ::-1]):
        raise OSError(f"could not write {path}")


__all__ = ["attention_grid", "save_attention_grid", "target_attention_maps"]
