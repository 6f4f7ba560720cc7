"""The tracking session: object ids, targets added and removed mid-video, reset, per-call lost threshold, one
forward for every live target and for several sessions, and bad input that leaves the session unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackModel, SimTrackSession, track_many
from simtrack_hf.data.synthetic import render_sequence

BOX_A, BOX_B, BOX_C = [20.0, 30.0, 30.0, 25.0], [90.0, 50.0, 20.0, 40.0], [60.0, 10.0, 40.0, 30.0]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config()).eval()
    with torch.no_grad():  # peaked corner heatmaps: boxes move with the input
        for corner in ("tl", "br"):
            getattr(model.box_head, f"conv5_{corner}").weight.mul_(40)
    return model


@pytest.fixture(scope="module")
def frames():
    return render_sequence(3, num_frames=7, size=(120, 160)).frames


def count_forwards(monkeypatch, model) -> list[int]:
    """Rows of every forward of `model` from now on."""
    calls, forward = [], model.forward
    monkeypatch.setattr(model, "forward",
                        lambda *a, **k: calls.append(k["search_pixel_values"].shape[0]) or forward(*a, **k))
    return calls


def snapshot(session: SimTrackSession) -> dict:
    """Everything a session holds (copies)."""
    state = {k: v for k, v in vars(session).items() if k not in ("model", "processor")}
    return {k: tuple(t.clone() for t in v) if isinstance(v, tuple) and v and torch.is_tensor(v[0])
            else v.clone() if torch.is_tensor(v) else np.copy(v) if isinstance(v, np.ndarray) else
            list(v) if isinstance(v, list) else v for k, v in state.items()}


def assert_same_state(before: dict, session: SimTrackSession) -> None:
    after = snapshot(session)
    assert before.keys() == after.keys()
    for key, value in before.items():
        other = after[key]
        if isinstance(value, tuple) and value and torch.is_tensor(value[0]):
            assert all(torch.equal(a, b) for a, b in zip(value, other)), key
        elif torch.is_tensor(value):
            assert torch.equal(value, other), key
        elif isinstance(value, np.ndarray):
            assert np.array_equal(value, other), key
        else:
            assert value == other, key


def test_results_carry_ids_boxes_scores_lost(model, frames):
    session = SimTrackSession(model)
    first = session.add_objects(frames[0], {"car": BOX_A, 7: BOX_B})
    assert first.frame_index == 0 and first.object_ids == ["car", 7]
    assert np.array_equal(first.boxes, [BOX_A, BOX_B]) and np.array_equal(first.scores, [1, 1])
    assert not first.lost.any()
    result = session.track(frames[1])
    assert result.frame_index == 1 and result.object_ids == ["car", 7]
    assert result.boxes.shape == (2, 4) and result.scores.shape == (2,) and result.lost.dtype == bool


def test_added_target_leaves_the_others_unchanged(model, frames, monkeypatch):
    plain = SimTrackSession(model)
    plain.add_objects(frames[0], {"a": BOX_A, "b": BOX_B})
    expected = [plain.track(frame) for frame in frames[1:]]

    calls = count_forwards(monkeypatch, model)
    session = SimTrackSession(model)
    session.add_objects(frames[0], {"a": BOX_A, "b": BOX_B})
    results = [session.track(frame) for frame in frames[1:3]]
    added = session.add_objects(frames[2], {"c": BOX_C})  # mid-video, on the current frame
    assert added.frame_index == 2 and added.object_ids == ["a", "b", "c"]
    assert np.array_equal(added.boxes[:2], results[-1].boxes) and np.array_equal(added.boxes[2], BOX_C)
    results += [session.track(frame) for frame in frames[3:]]
    assert calls == [2, 2, 3, 3, 3, 3]  # one forward per frame for every live target
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.boxes[:2], want.boxes)
        np.testing.assert_array_equal(got.scores[:2], want.scores)

    alone = SimTrackSession(model)  # the new target is templated on the frame it was added on
    alone.add_objects(frames[2], {"c": BOX_C})
    for frame, got in zip(frames[3:], results[2:]):
        np.testing.assert_allclose(got.boxes[2], alone.track(frame).boxes[0], rtol=0, atol=1e-4)
    assert len({tuple(r.boxes[2].round(2)) for r in results[2:]}) > 1  # the boxes move: the test can see a change


def test_remove_objects_and_reset(model, frames):
    session = SimTrackSession(model)
    session.add_objects(frames[0], {"a": BOX_A, "b": BOX_B, "c": BOX_C})
    session.track(frames[1])
    session.remove_objects(["b"])
    assert session.object_ids == ["a", "c"] and session.template_boxes.shape == (2, 4)
    two = session.track(frames[2])
    reference = SimTrackSession(model)
    reference.add_objects(frames[0], {"a": BOX_A, "c": BOX_C})
    reference.track(frames[1])
    np.testing.assert_allclose(two.boxes, reference.track(frames[2]).boxes, rtol=0, atol=1e-4)
    session.remove_objects(["a", "c"])
    empty = session.track(frames[3])  # no targets: the video goes on without a forward
    assert empty.frame_index == 3 and empty.object_ids == [] and empty.boxes.shape == (0, 4)
    session.add_objects(frames[3], {"d": BOX_A})
    assert session.track(frames[4]).object_ids == ["d"]
    session.reset()
    assert session.object_ids == [] and session.frame_index == -1
    with pytest.raises(RuntimeError, match="init"):
        session.track(frames[0])
    assert session.add_objects(frames[5], {"e": BOX_B}).frame_index == 0


def test_lost_threshold_per_session_and_per_call(model, frames):
    session = SimTrackSession(model, lost_threshold=0.0)
    session.init(frames[0], [BOX_A, BOX_B])
    assert not session.track(frames[1]).lost.any()
    assert session.track(frames[2], lost_threshold=1.0).lost.all()  # this frame only
    assert not session.track(frames[3]).lost.any()
    with pytest.raises(ValueError, match="unknown tracking option"):
        session.track(frames[4], threshold=0.5)


def test_sessions_step_together_in_one_forward(model, frames, monkeypatch):
    one, two = SimTrackSession(model), SimTrackSession(model, lost_threshold=1.0, hold_lost_boxes=True)
    one.add_objects(frames[0], {"a": BOX_A})
    two.add_objects(frames[1], {"x": BOX_B, "y": BOX_C})  # another video, another start
    solo = one.new_session()
    solo.add_objects(frames[0], {"a": BOX_A})
    calls = count_forwards(monkeypatch, model)
    first, second = track_many([one, two], [frames[1], frames[2]])
    assert calls == [3]
    assert first.object_ids == ["a"] and second.object_ids == ["x", "y"]
    np.testing.assert_allclose(first.boxes, solo.track(frames[1]).boxes, rtol=0, atol=1e-4)
    assert np.allclose(second.boxes, [BOX_B, BOX_C]) and second.lost.all()  # its own options: held boxes


def test_a_step_is_applied_to_the_state_it_was_prepared_for(model, frames):
    session = SimTrackSession(model)
    session.add_objects(frames[0], {"a": BOX_A})
    step = session.prepare_step(frames[1])
    session.add_objects(frames[0], {"b": BOX_B})
    before = snapshot(session)
    with pytest.raises(ValueError, match="another state"):
        session.apply_step(step, torch.zeros(1, 4), torch.zeros(1))
    assert_same_state(before, session)


@pytest.mark.parametrize("action, message", [
    (lambda s, f: s.add_objects(f[1], {"a": BOX_C}), "object id 'a' is already tracked"),
    (lambda s, f: s.add_objects(f[1], {"new": BOX_C, "b": BOX_A}), "object id 'b' is already tracked"),
    (lambda s, f: s.add_objects(f[1], {"far": [500, 500, 20, 20]}), "object id 'far' on frame 1: .*outside"),
    (lambda s, f: s.add_objects(f[1], {"flat": [10, 10, 0, 20]}), "object id 'flat' on frame 1: .*positive width"),
    (lambda s, f: s.add_objects(f[1], {}), "non-empty"),
    (lambda s, f: s.add_objects(f[1][:100], {"new": BOX_C}), "frame 1 size 160x100 differs"),
    (lambda s, f: s.remove_objects(["zebra"]), "object id 'zebra' is not tracked"),
    (lambda s, f: s.remove_objects(["a", "a"]), "object id 'a' is given twice"),
    (lambda s, f: s.track(f[2][:, :150]), "frame 2 size 150x120 differs"),
    (lambda s, f: s.track(f[2], lost_threshold=2.0), "lost_threshold"),
    (lambda s, f: s.init(f[0], [500, 500, 20, 20]), "outside"),
])
def test_bad_input_names_the_problem_and_changes_nothing(model, frames, action, message):
    session = SimTrackSession(model)
    session.add_objects(frames[0], {"a": BOX_A, "b": BOX_B})
    session.track(frames[1])
    before = snapshot(session)
    with pytest.raises(ValueError, match=message):
        action(session, frames)
    assert_same_state(before, session)
    session.track(frames[2])  # still usable
