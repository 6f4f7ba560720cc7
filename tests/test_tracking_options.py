"""Tracker robustness options and the lost flag: off by default (paper behaviour), each option does what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackModel
from simtrack_hf.data.synthetic import render_sequence
from simtrack_hf.inference.attention import attention_maps
from simtrack_hf.inference.tracker import SimTrackTracker, track_many
from simtrack_hf.tracking_simtrack import TrackingOptions, corner_prior_boxes, track_videos


def heads_up_model(seed: int = 0, **config) -> SimTrackModel:
    """A tiny random model whose corner heatmaps are peaked (scaled last conv), so boxes move with the input."""
    torch.manual_seed(seed)
    model = SimTrackModel(tiny_config(**config)).eval()
    with torch.no_grad():
        for corner in ("tl", "br"):
            getattr(model.box_head, f"conv5_{corner}").weight.mul_(40)
    return model


@pytest.fixture(scope="module")
def clip():
    seq = render_sequence(7, num_frames=8)
    return seq.frames, seq.boxes


def run(model, frames, box, **options):
    tracker = SimTrackTracker(model, **options)
    results = [tracker.init(frames[0], box)] + [tracker.track(f) for f in frames[1:]]
    return tracker, results


def test_defaults_are_the_papers_tracker(clip):
    frames, boxes = clip
    model = heads_up_model()
    tracker, plain = run(model, frames, boxes[0])
    assert tracker.options == TrackingOptions()
    _, explicit = run(model, frames, boxes[0], lost_threshold=None, corner_prior_weight=0.0)
    for a, b in zip(plain, explicit):
        assert np.array_equal(a.boxes, b.boxes) and not a.lost.any()
    assert len({tuple(r.boxes[0].round(3)) for r in plain}) > 2  # the boxes move: the test can see a change


def test_lost_flag_follows_threshold(clip):
    frames, boxes = clip
    model = heads_up_model()
    _, results = run(model, frames, boxes[0], lost_threshold=1.0)
    assert not results[0].lost.any() and all(r.lost.all() for r in results[1:])
    _, results = run(model, frames, boxes[0], lost_threshold=0.0)
    assert not any(r.lost.any() for r in results)
    scores = np.array([r.scores[0] for r in results[1:]])
    threshold = float(np.median(scores))
    _, results = run(model, frames, boxes[0], lost_threshold=threshold)
    assert np.array_equal([r.lost[0] for r in results[1:]], scores < threshold)


def test_hold_lost_boxes_keeps_previous_box(clip):
    frames, boxes = clip
    _, results = run(heads_up_model(), frames, boxes[0], lost_threshold=1.0, hold_lost_boxes=True)
    for r in results[1:]:
        assert np.allclose(r.boxes[0], boxes[0], atol=1e-6)


def test_max_scale_change_bounds_size(clip):
    frames, boxes = clip
    _, free = run(heads_up_model(), frames, boxes[0])
    _, bounded = run(heads_up_model(), frames, boxes[0], max_scale_change=1.05)
    height, width = frames[0].shape[:2]
    inside = [b.boxes[0] for b in bounded]  # clipping at the frame border may shrink a box further
    inside = [i for i, (x, y, w, h) in enumerate(inside)
              if x > 10 and y > 10 and x + w < width - 10 and y + h < height - 10]
    ratios = np.concatenate([bounded[i + 1].boxes[0, 2:] / bounded[i].boxes[0, 2:] for i in range(len(bounded) - 1)])
    assert np.all(ratios <= 1.05 + 1e-6)
    kept = [bounded[i + 1].boxes[0, 2:] / bounded[i].boxes[0, 2:] for i in inside if i + 1 in inside]
    assert kept and np.all(np.concatenate(kept) >= 1 / 1.05 - 1e-6)
    free_ratios = np.concatenate([b.boxes[0, 2:] / a.boxes[0, 2:] for a, b in zip(free, free[1:])])
    assert np.abs(np.log(free_ratios)).max() > np.log(1.05)  # unbounded, the size does change more


def test_lost_search_growth_enlarges_next_crop(clip):
    frames, boxes = clip
    tracker = SimTrackTracker(heads_up_model(), lost_threshold=1.0, lost_search_growth=2.0)
    tracker.init(frames[0], boxes[0])
    assert np.array_equal(tracker.search_boxes(), tracker.boxes)
    tracker.track(frames[1])
    grown, box = tracker.search_boxes()[0], tracker.boxes[0]
    assert np.allclose(grown[2:], 2 * box[2:]) and np.allclose(grown[:2] + grown[2:] / 2, box[:2] + box[2:] / 2)


def test_per_call_lost_search_growth_grows_the_crop(clip):
    frames, boxes = clip
    per_call = SimTrackTracker(heads_up_model(), lost_threshold=1.0)  # growth 1.0 in the session
    per_call.init(frames[0], boxes[0])
    per_call.track(frames[1])  # lost: score below 1.0
    box = per_call.boxes[0]
    assert np.array_equal(per_call.prepare_step(frames[2]).centred_on[0], box)
    grown = per_call.prepare_step(frames[2], lost_search_growth=2.0).centred_on[0]
    assert np.allclose(grown[2:], 2 * box[2:]) and np.allclose(grown[:2] + grown[2:] / 2, box[:2] + box[2:] / 2)
    # tracking with the per-call growth is tracking with that growth in the session
    in_session = SimTrackTracker(heads_up_model(), lost_threshold=1.0, lost_search_growth=2.0)
    in_session.init(frames[0], boxes[0])
    in_session.track(frames[1])
    np.testing.assert_array_equal(per_call.track(frames[2], lost_search_growth=2.0).boxes,
                                  in_session.track(frames[2]).boxes)


def test_attention_maps_show_the_crops_the_model_saw(clip):
    frames, boxes = clip
    tracker = SimTrackTracker(heads_up_model(), lost_threshold=1.0)
    seen = []

    def inspect(session, step):
        seen.append(step)
        return attention_maps(session, step)

    tracked = list(track_videos([(tracker, frames[:4], boxes[0])], inspect=inspect, inspect_every=1,
                                lost_search_growth=2.0))
    assert [t.inspection is None for t in tracked] == [True, False, False, False]
    processor = tracker.processor
    mean, std = np.array(processor.image_mean), np.array(processor.image_std)
    for step, frame in zip(seen, tracked[1:]):
        maps, crops = frame.inspection
        assert step.options.lost_search_growth == 2.0 and step.frame_index == frame.result.frame_index
        # the crops drawn are the model's input (de-normalised), around the grown boxes of lost targets
        model_input = (step.search_pixel_values[0].permute(1, 2, 0).numpy() * std + mean) * 255
        assert np.abs(crops[0].astype(np.float64) - model_input).max() < 0.01
    grown = seen[-1].centred_on[0]  # lost on the frame before: a grown region, not the previous box
    assert not np.allclose(grown, tracked[-2].result.boxes[0])
    direct = attention_maps(tracker, frames[4], lost_search_growth=2.0)[1]
    around_box = processor.crop_around_boxes(frames[4], tracker.boxes, processor.search_factor,
                                             processor.search_size)[0]
    assert not np.array_equal(direct, around_box)


def test_corner_prior_without_weight_is_the_heads_soft_argmax():
    model = heads_up_model()
    search = torch.randn(2, 3, 128, 128)
    template = model.embed_template(torch.randn(2, 3, 64, 64), torch.tensor([[0.25, 0.25, 0.5, 0.5]] * 2))
    with torch.no_grad():
        out = model(search_pixel_values=search, template_embeddings=template)
    boxes = corner_prior_boxes(out.corner_logits, torch.tensor([[30.0, 20.0], [10.0, 40.0]]), torch.zeros(2),
                               torch.full((2,), 0.5), model.config.patch_size)
    torch.testing.assert_close(boxes, out.pred_boxes.float(), rtol=0, atol=1e-6)


def test_score_gated_template_update(clip):
    frames, boxes = clip
    tracker = SimTrackTracker(heads_up_model(), template_update_threshold=0.0, template_update_interval=2)
    tracker.init(frames[0], boxes[0])
    initial = [t.clone() for t in tracker.template_embeddings]
    tracker.track(frames[1])  # frame 1: not a multiple of the interval
    assert all(torch.equal(a, b) for a, b in zip(initial, tracker.template_embeddings))
    tracker.track(frames[2])
    assert not torch.equal(initial[0], tracker.template_embeddings[0])
    never = SimTrackTracker(heads_up_model(), template_update_threshold=1.0, template_update_interval=1)
    never.init(frames[0], boxes[0])
    kept = [t.clone() for t in never.template_embeddings]
    never.track(frames[1])
    assert all(torch.equal(a, b) for a, b in zip(kept, never.template_embeddings))


def test_corner_prior_pulls_to_previous_corners():
    logits = torch.zeros(1, 2, 8, 8)
    logits[0, 0, 0, 0] = logits[0, 1, 7, 7] = 8.0  # a far-away peak: the whole crop
    wh = torch.tensor([[32.0, 32.0]])  # previous box, centred in a 128-pixel crop: corners at 48 and 80
    free = corner_prior_boxes(logits, wh, torch.tensor([0.0]), torch.tensor([0.5]), 16)
    pulled = corner_prior_boxes(logits, wh, torch.tensor([1.0]), torch.tensor([0.2]), 16)
    assert free[0, 2] > 0.7  # without the prior the peaks win
    assert torch.allclose(pulled[0], torch.tensor([0.5, 0.5, 32 / 128, 32 / 128]), atol=0.02)


def test_options_from_config_and_overrides(tmp_path):
    model = heads_up_model(tracking_options={"lost_threshold": 0.4, "corner_prior_weight": 0.3})
    model.save_pretrained(tmp_path)
    tracker = SimTrackTracker.from_pretrained(tmp_path, tracking_options={"lost_threshold": 0.2})
    assert tracker.options.lost_threshold == 0.2 and tracker.options.corner_prior_weight == 0.3
    assert TrackingOptions(lost_threshold=0.4, corner_prior_weight=0.3).to_dict() == model.config.tracking_options


@pytest.mark.parametrize("options, message", [
    ({"lost_threshold": 1.5}, "lost_threshold"),
    ({"corner_prior_weight": -0.1}, "corner_prior_weight"),
    ({"corner_prior_sigma": 0.0}, "corner_prior_sigma"),
    ({"max_scale_change": 0.9}, "max_scale_change"),
    ({"template_update_interval": 0}, "template_update_interval"),
    ({"hold_lost_boxes": True}, "need a lost_threshold"),
    ({"window": 0.2}, "unknown tracking option"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SimTrackTracker(heads_up_model(), **options)


def test_trackers_with_different_options_share_a_forward(clip):
    frames, boxes = clip
    model = heads_up_model()
    a, b = SimTrackTracker(model), SimTrackTracker(model, lost_threshold=1.0, hold_lost_boxes=True)
    a.init(frames[0], boxes[0])
    b.init(frames[0], boxes[0])
    ra, rb = track_many([a, b], [frames[1], frames[1]])
    _, alone = run(model, frames[:2], boxes[0])
    assert np.allclose(ra.boxes, alone[1].boxes, atol=1e-6) and np.allclose(rb.boxes[0], boxes[0], atol=1e-6)


def test_new_session_keeps_overrides_back_to_the_papers_defaults(tmp_path):
    import dataclasses

    model = heads_up_model(tracking_options={"max_scale_change": 1.05, "lost_threshold": 0.4})
    paper = SimTrackTracker(model, **dataclasses.asdict(TrackingOptions()))
    assert paper.options == TrackingOptions() and paper.new_session().options == TrackingOptions()
    assert SimTrackTracker(model).new_session().options == TrackingOptions(max_scale_change=1.05, lost_threshold=0.4)
