"""Target-relevant attention maps of the search region (the paper's Fig. 4), per layer.

For each layer the attention weights (averaged over heads) from the template tokens to the search tokens are
averaged over template tokens weighted by R, the share of each template patch covered by the target box. The result
shows where in the search region the *target* looks, layer by layer. The weights are recomputed from each layer's
input tokens, so any attention implementation (eager, SDPA, flash) works and the model is never reconfigured.
Drawing them is `simtrack_hf.io.writers.save_attention_grid`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..configuration_simtrack import SimTrackConfig
from ..modeling_simtrack import SimTrackModel
from ..tracking_simtrack import SearchStep, SimTrackSession


def target_attention_maps(
    attentions: tuple[torch.Tensor, ...], relevance: torch.Tensor, config: SimTrackConfig
) -> torch.Tensor:
    """Per-layer attention of the target's template tokens over the search tokens.

    Args:
        attentions: L tensors (B, heads, tokens, tokens) of attention weights (see `layer_attention_weights`).
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


def layer_attention_weights(model: SimTrackModel, hidden_states: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Softmax attention weights (B, heads, L, L) of every encoder layer, from its input tokens (B, L, C).

    `hidden_states` is `SimTrackModel(..., output_hidden_states=True).hidden_states` (the encoder input first).
    """
    weights = []
    for layer, tokens in zip(model.encoder.layers, hidden_states):
        attention = layer.self_attn
        normed = layer.layer_norm1(tokens)
        shape = (*normed.shape[:-1], -1, attention.head_dim)
        queries = attention.q_proj(normed).view(shape).transpose(1, 2)
        keys = attention.k_proj(normed).view(shape).transpose(1, 2)
        logits = torch.matmul(queries, keys.transpose(-1, -2)) * attention.scale
        weights.append(logits.softmax(-1, dtype=torch.float32))
    return weights


@torch.inference_mode()
def attention_maps(tracker: SimTrackSession, frame: Any, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Target-relevant attention over the search regions of the tracker's next frame (state unchanged).

    `frame` is the next RGB frame (prepared with `options`, as `track(frame, **options)` would) or its prepared
    `SearchStep`: the maps and crops are those of exactly the regions the model sees for that frame. Returns maps
    (N, layers, sz, sz) in [0, 1] and the search crops (N, S, S, 3) uint8 RGB they cover. Runs one extra forward
    of the tracker's model.
    """
    model = tracker.model
    if not isinstance(model, torch.nn.Module):
        raise NotImplementedError("attention_maps needs the PyTorch model (backend='torch')")
    step = frame if isinstance(frame, SearchStep) else tracker.prepare_step(frame, **options)
    outputs = model(
        search_pixel_values=step.search_pixel_values.to(tracker.device, tracker.dtype),
        template_embeddings=tracker.template_embeddings,
        output_hidden_states=True,
    )
    relevance = 2 * model.embeddings.pos_fc_inputs(tracker.template_boxes)[..., 0] - 1
    attentions = layer_attention_weights(model, outputs.hidden_states)
    maps = target_attention_maps(attentions, relevance.float(), model.config)
    processor = tracker.processor
    crops, _ = processor.crop_around_boxes(step.frame, step.centred_on, processor.search_factor, processor.search_size)
    return maps.cpu().numpy(), crops


__all__ = ["attention_maps", "layer_attention_weights", "target_attention_maps"]
