"""Tracking metrics: parity with the original SimTrack analysis code (fixture) and the got10k toolkit."""

import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from simtrack_hf.evaluation import (
    METRIC_PATH,
    PYTRACKING_OVERLAP_THRESHOLDS,
    CENTER_THRESHOLDS,
    NORM_CENTER_THRESHOLDS,
    aggregate_results,
    box_iou,
    center_error,
    evaluate_sequence,
    evaluate_sequences,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
sys.path.insert(0, FIXTURES)
from load_fixture import load_fixture  # noqa: E402
from conftest import WITHOUT_SIMTRACK_HF  # noqa: E402


@pytest.fixture(scope="module")
def fx():
    return load_fixture("preproc_eval", FIXTURES)


def _seq_args(s):
    return s["pred"].numpy(), s["anno"].numpy(), s["target_visible"].numpy()


@pytest.fixture(scope="module")
def fixture_results(fx):
    return [evaluate_sequence(*_seq_args(s), dataset=s["dataset"], name=s["dataset"]) for s in fx["eval_sequences"]]


# ------------------------------------------------------------------ pytracking parity (fixture)
def test_thresholds_match_reference(fx):
    assert np.array_equal(PYTRACKING_OVERLAP_THRESHOLDS, fx["thresholds_overlap"].numpy())
    assert np.array_equal(CENTER_THRESHOLDS, fx["thresholds_center"].numpy())
    assert np.array_equal(NORM_CENTER_THRESHOLDS, fx["thresholds_center_norm"].numpy())


@pytest.mark.parametrize("i", [0, 1, 2])
def test_per_frame_measures_match_reference(fx, fixture_results, i):
    s, r = fx["eval_sequences"][i], fixture_results[i]
    np.testing.assert_array_equal(r.valid, s["valid"].numpy())
    for ours, ref in (("iou", "iou"), ("center_error", "center_err"), ("norm_center_error", "center_err_norm")):
        # torch's vectorised sqrt is 1 ulp off numpy's on one frame, hence 1e-12 and not 0
        np.testing.assert_allclose(getattr(r, ours), s[ref].numpy(), rtol=0, atol=1e-12, err_msg=f"{s['dataset']} {ours}")
    assert r.ao == pytest.approx(fx["scores_over_these_sequences"]["AO_valid_frames_mean"][i], abs=1e-12)


def test_dataset_rules_markers(fixture_results):
    otb, lasot, uav = fixture_results
    invisible = slice(20, 23)
    assert np.all(otb.center_error[invisible] == np.inf) and np.all(otb.norm_center_error[invisible] == -1)
    assert np.all(lasot.norm_center_error[invisible] == np.inf)
    assert np.all(uav.center_error[invisible] == -1) and uav.center_error[30] == -1  # NaN GT row
    assert np.all(uav.iou[~uav.valid] == -1)


def test_curves_match_reference_exactly(fx, fixture_results):
    # the reference stores float32 curves of count / N: our float64 values round to them bit for bit
    for ours, ref in (("success_curve", "success_curves"), ("precision_curve", "precision_curves"),
                      ("norm_precision_curve", "norm_precision_curves")):
        mine = np.stack([getattr(r, ours) for r in fixture_results])
        assert np.array_equal(mine.astype(np.float32), fx[ref].numpy()), ours


def test_scores_match_reference(fx, fixture_results):
    ref = fx["scores_over_these_sequences"]
    scores = aggregate_results(fixture_results)
    expected = {"auc": ref["AUC"], "precision": ref["Precision@20px"], "norm_precision": ref["NormPrecision@0.20"],
                "sr50": ref["OP50"], "sr75": ref["OP75"]}
    for k, v in expected.items():  # the reference reduces in float32; ours is float64
        assert getattr(scores, k) == pytest.approx(v, abs=2e-5), k
    # replaying the reference's float32 reduction on our curves gives its numbers bit for bit
    def f32(name):
        c = np.stack([getattr(r, name) for r in fixture_results]).astype(np.float32)
        return c.mean(0, dtype=np.float32) * np.float32(100)
    succ, prec, nprec = f32("success_curve"), f32("precision_curve"), f32("norm_precision_curve")
    assert succ.mean(dtype=np.float32) == np.float32(ref["AUC"])
    assert prec[20] == np.float32(ref["Precision@20px"]) and nprec[20] == np.float32(ref["NormPrecision@0.20"])
    assert succ[10] == np.float32(ref["OP50"]) and succ[15] == np.float32(ref["OP75"])
    # evaluate_sequences == evaluate_sequence + aggregate_results
    seqs = fx["eval_sequences"]
    again = evaluate_sequences([s["pred"].numpy() for s in seqs], [s["anno"].numpy() for s in seqs],
                               [s["target_visible"].numpy() for s in seqs], dataset=[s["dataset"] for s in seqs])
    assert again.to_dict() == scores.to_dict()
    assert scores.num_sequences == 3 and scores.convention == "pytracking"


# ------------------------------------------------------------------ pytracking clean-up rules
def test_inclusive_iou_and_center_by_hand():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 10.0, 10.0]])
    assert box_iou(a, b, inclusive=True)[0] == pytest.approx(50 / 150)  # columns 5..9 overlap
    assert box_iou(a, b)[0] == pytest.approx(50 / 150)
    c = np.array([[10.0, 0.0, 10.0, 10.0]])
    assert box_iou(a, c, inclusive=True)[0] == 0.0
    assert center_error(a, np.array([[3.0, 4.0, 10.0, 10.0]]))[0] == pytest.approx(5.0)


def test_zero_size_predictions_take_previous_box():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (5, 1))
    pred = np.array([[0, 0, 0, 0], [11, 10, 20, 20], [0, 0, 0, 5], [0, 0, 5, 0], [12, 10, 20, 20]], float)
    r = evaluate_sequence(pred, gt)
    assert r.iou[0] == 1.0  # first frame forced to the GT
    assert r.iou[2] == r.iou[3] == r.iou[1]  # replaced by the (already replaced) previous box


def test_length_mismatch_rules():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (4, 1))
    r = evaluate_sequence(gt[:2], gt)  # zero-padded: padded frames fail
    np.testing.assert_array_equal(r.iou, [1, 1, 0, 0])
    r = evaluate_sequence(np.tile(gt, (2, 1)), gt)  # truncated
    assert r.iou.shape == (4,)
    with pytest.raises(ValueError, match="2 predicted boxes for 4"):
        evaluate_sequence(gt[:2], gt, dataset="lasot")
    with pytest.raises(ValueError, match="3 predicted boxes for 4"):
        evaluate_sequence(gt[:3], gt, convention="got10k")


def test_bad_inputs_raise_clear_errors():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (4, 1))
    pred = gt.copy()
    pred[2, 1] = np.nan
    for conv in ("pytracking", "got10k", "otb"):
        with pytest.raises(ValueError, match="'seqA'.*frame 2.*NaN"):
            evaluate_sequence(pred, gt, convention=conv, name="seqA")
    gt_nan = gt.copy()
    gt_nan[3] = np.nan
    with pytest.raises(ValueError, match="ground truth at frame 3 is NaN"):
        evaluate_sequence(gt, gt_nan)
    neg = gt.copy()
    neg[1, 2] = -1
    with pytest.raises(ValueError, match="frame 1 has negative size"):
        evaluate_sequence(neg, gt)
    with pytest.raises(ValueError, match="unknown convention"):
        evaluate_sequence(gt, gt, convention="vot")
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        evaluate_sequence(gt[:, :3], gt)
    with pytest.raises(ValueError, match="3 visibility flags for 4"):
        evaluate_sequence(gt, gt, np.ones(3, bool))


# ------------------------------------------------------------------ got10k / otb against the got10k package
def _random_sequences(rng, k=4, n=40, nan_rows=False):
    out = []
    for _ in range(k):
        gt = np.c_[rng.uniform(-20, 300, (n, 2)), rng.uniform(5, 80, (n, 2))]
        pred = gt + rng.normal(0, 8, (n, 4))
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        pred[rng.random(n) < 0.1] += 150  # some misses
        vis = rng.random(n) > 0.15
        if nan_rows:
            gt[rng.random(n) < 0.1] = np.nan
        out.append((pred, gt, vis))
    return out


def test_got10k_convention_matches_toolkit():
    from got10k.experiments.got10k import ExperimentGOT10k
    from got10k.utils.metrics import rect_iou

    seqs = _random_sequences(np.random.default_rng(0))
    sizes = [(320, 240), (300, 300), (256, 200), (400, 260)]
    scores = evaluate_sequences([p for p, _, _ in seqs], [g for _, g, _ in seqs], [v for _, _, v in seqs],
                                convention="got10k", image_sizes=sizes)
    ious = np.concatenate([
        rect_iou(p[1:].copy(), g[1:].copy(), bound=s)[v[1:]] for (p, g, v), s in zip(seqs, sizes)
    ])
    ao, sr, _, curve = ExperimentGOT10k._evaluate(None, ious, np.array([]))
    assert scores.num_frames == ious.size
    assert scores.ao == pytest.approx(ao * 100, abs=1e-10)
    assert scores.sr50 == pytest.approx(sr * 100, abs=1e-10)
    assert scores.sr75 == pytest.approx(np.mean(ious > 0.75) * 100, abs=1e-10)
    np.testing.assert_allclose(scores.success_curve, curve, rtol=0, atol=1e-12)
    assert len(scores.success_curve) == 101


@pytest.mark.parametrize("nan_rows", [False, True])
def test_otb_convention_matches_toolkit(nan_rows):
    from got10k.experiments.otb import ExperimentOTB
    from got10k.experiments.uav123 import ExperimentUAV123

    seqs = _random_sequences(np.random.default_rng(1), nan_rows=nan_rows)
    for _, g, _ in seqs:
        g[0] = [10.0, 10.0, 30.0, 30.0]  # the first frame must be annotated
    scores = evaluate_sequences([p for p, _, _ in seqs], [g for _, g, _ in seqs], convention="otb")
    exp = SimpleNamespace(nbins_iou=21, nbins_ce=51)
    succ, prec = [], []
    for p, g, _ in seqs:
        boxes = p.copy()
        boxes[0] = g[0]
        ious, ces = ExperimentUAV123._calc_metrics(None, boxes, g) if nan_rows else ExperimentOTB._calc_metrics(None, boxes, g)
        s, c = ExperimentOTB._calc_curves(exp, ious, ces)
        succ.append(s)
        prec.append(c)
    succ, prec = np.mean(succ, axis=0), np.mean(prec, axis=0)
    np.testing.assert_allclose(scores.success_curve, succ, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores.precision_curve, prec, rtol=0, atol=1e-12)
    assert scores.auc == pytest.approx(np.mean(succ) * 100, abs=1e-10)
    assert scores.precision == pytest.approx(prec[20] * 100, abs=1e-10)


def test_otb_and_got10k_drop_invisible_frames():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (4, 1))
    pred = gt.copy()
    pred[2] += 100  # a miss on a frame where the target is absent
    vis = np.array([True, True, False, True])
    for conv in ("otb", "got10k"):
        r = evaluate_sequence(pred, gt, vis, convention=conv)
        assert r.success_curve[0] == 1.0 and r.counted[2] == False  # noqa: E712
    assert evaluate_sequence(pred, gt, convention="got10k").counted.tolist() == [False, True, True, True]


# ------------------------------------------------------------------ evaluate.Metric
def test_evaluate_metric_offline(fx, fixture_results, monkeypatch, tmp_path):
    import evaluate
    import evaluate.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # for anything that reads the env late
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)

    metric = evaluate.load(METRIC_PATH, cache_dir=str(tmp_path))
    seqs = fx["eval_sequences"]
    out = metric.compute(
        predictions=[s["pred"].numpy().tolist() for s in seqs],
        references=[s["anno"].numpy().tolist() for s in seqs],
        visibility=[s["target_visible"].numpy().astype(bool).tolist() for s in seqs],
        dataset=[s["dataset"] for s in seqs],
    )
    expected = aggregate_results(fixture_results).to_dict()
    for k, v in expected.items():
        assert out[k] == pytest.approx(v, abs=1e-12), k
    got = metric.compute(predictions=[s["pred"].numpy().tolist() for s in seqs[:1]],
                         references=[s["anno"].numpy().tolist() for s in seqs[:1]], convention="got10k")
    direct = evaluate_sequences([seqs[0]["pred"].numpy()], [seqs[0]["anno"].numpy()], convention="got10k").to_dict()
    assert got == pytest.approx(direct)


def test_score_separation_auc_and_threshold():
    from simtrack_hf.evaluation.metrics import score_separation

    ious = np.array([0.9, 0.8, 0.7, 0.3, 0.05, 0.0, 0.02])
    scores = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.2, 0.65])  # one lost frame (0.65) outscores a found one (0.6)
    auc, threshold = score_separation(scores, ious)
    assert auc == pytest.approx(8 / 9)  # 3 found x 3 lost pairs, one misordered
    assert threshold == pytest.approx(0.6)  # lost = score < 0.6: all found kept, two of three lost flagged
    assert score_separation([0.9, 0.1], [0.9, 0.0]) == (1.0, 0.9)
    assert score_separation([0.5, 0.5], [0.9, 0.0])[0] == 0.5  # a tie counts half
    with pytest.raises(ValueError, match="IoU < 0.1"):
        score_separation([0.9, 0.8], [0.9, 0.7])


STANDALONE_METRIC = WITHOUT_SIMTRACK_HF + """
import evaluate
metric = evaluate.load(sys.argv[1], cache_dir=sys.argv[2])
print(json.dumps(metric.compute(predictions=[[[0, 0, 10, 10], [1, 1, 10, 10]]],
                                references=[[[0, 0, 10, 10], [0, 0, 10, 10]]])))
"""


def test_metric_folder_stands_alone_with_its_card(tmp_path):
    """The metric folder, copied elsewhere, loads and computes where simtrack_hf cannot be imported."""
    import json
    import shutil
    import subprocess

    folder = tmp_path / "simtrack_tracking_metric"
    shutil.copytree(METRIC_PATH, folder, ignore=shutil.ignore_patterns("__pycache__"))
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and all(f"## {part}" in card for part in ("How to use", "Limitations"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", STANDALONE_METRIC, str(folder), str(tmp_path / "cache")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = evaluate_sequences([np.array([[0, 0, 10, 10], [1, 1, 10, 10]])],
                                  [np.array([[0, 0, 10, 10], [0, 0, 10, 10]])]).to_dict()
    assert json.loads(result.stdout.strip().splitlines()[-1]) == pytest.approx(expected)
