"""The grading metrics on constructed cases whose answer is known, and the CLI and the page on a tiny corpus."""
import math

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cli import grade as grade_command
from cli.corpus import main as write_corpus
from lab import grade, quality
from model.checkpoint import save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.network import TwoStreamNet

SIZE = 64
CLI_METHODS = ("Saliency", "Grad-CAM", "Integrated Gradients")


def region_case(frames: int = 200):
    """Per-frame random boxes, each frame with one or two active regions out of three."""
    generator = torch.Generator().manual_seed(0)
    corners = torch.randint(0, SIZE - 12, (frames, 3, 2), generator=generator).float()
    boxes = torch.cat([corners, corners + torch.randint(4, 12, (frames, 3, 2), generator=generator)], -1)
    active = torch.rand(frames, 3, generator=generator) < 0.5
    active[:, 0] = True
    return boxes, active, quality.box_masks(boxes, active, SIZE)


def test_a_map_equal_to_the_truth_scores_the_maximum():
    boxes, active, masks = region_case()
    maps = masks.float()
    assert torch.allclose(quality.mass_accuracy(maps, masks), torch.ones(len(maps)))
    assert torch.allclose(quality.pointing_game(maps, masks), torch.ones(len(maps)))


def test_a_random_map_scores_the_area_share():
    _, _, masks = region_case(400)
    area = masks.float().mean()
    maps = torch.rand(masks.shape, generator=torch.Generator().manual_seed(1))
    assert quality.mass_accuracy(maps, masks).mean() == pytest.approx(float(area), abs=0.01)
    assert quality.pointing_game(maps, masks).mean() == pytest.approx(float(area), abs=0.04)
    flat = torch.zeros_like(maps)  # no relevance at all: the expected value of a guess, not 0/0
    assert torch.allclose(quality.pointing_game(flat, masks), masks.float().mean((1, 2)))


def test_pointing_tolerance_counts_a_near_miss():
    boxes = torch.tensor([[[10.0, 10.0, 20.0, 20.0]]])
    active = torch.tensor([[True]])
    maps = torch.zeros(1, SIZE, SIZE)
    maps[0, 15, 21] = 1.0  # one pixel right of the box
    assert quality.pointing_game(maps, quality.box_masks(boxes, active, SIZE)).item() == 0
    assert quality.pointing_game(maps, quality.box_masks(boxes, active, SIZE, margin=2)).item() == 1


def test_temporal_localization_follows_the_curve():
    curve = torch.tensor([0.0, 0.0, 0.2, 0.8, 1.0, 1.0, 0.5, 0.1])
    maps = curve[:, None, None].expand(-1, 4, 4) + 0.01
    pearson, spearman = quality.curve_correlations(quality.frame_mass(maps), curve)
    assert pearson == pytest.approx(1.0) and spearman == pytest.approx(1.0)
    assert math.isnan(quality.curve_correlations(torch.ones(8), curve)[0])
    window = torch.tensor([False, False, True, True, True, False, False, False])
    assert quality.window_share(curve, window) == pytest.approx(2.0 / 3.6)


def linear_probability(weights: torch.Tensor):
    """A constructed model: the class probability rises with the weighted sum of the spatial stream's input."""
    def predict(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((rgb * weights).sum((1, 2, 3, 4)) / 32 - 3)
    return predict


@pytest.mark.parametrize("whole_frames", [False, True])
def test_deletion_of_a_perfect_order_beats_a_random_order(whole_frames):
    generator = torch.Generator().manual_seed(0)
    rgb, flow = torch.rand(3, 8, SIZE, SIZE, generator=generator), torch.rand(2, 7, SIZE, SIZE, generator=generator)
    weights = torch.zeros(1, 3, 8, SIZE, SIZE)
    weights[..., 2:4, 8:16, 8:16] = 1.0  # two frames, one patch: what the class really depends on
    predict = linear_probability(weights)
    fractions = torch.linspace(0, 1, 5)
    ends = (float(predict(rgb[None], flow[None])), float(predict(torch.zeros_like(rgb)[None], flow[None])))
    perfect = (weights[0] * rgb).sum(0)
    aucs = {}
    for name, maps in (("perfect", perfect), ("random", torch.rand(perfect.shape, generator=generator))):
        curves = grade.faithfulness_curves(predict, (rgb, flow), 0, maps, ends, fractions, generator)
        version = "temporal" if whole_frames else "spatial"
        aucs[name] = (quality.auc(curves[f"deletion_{version}"], fractions),
                      quality.auc(curves[f"insertion_{version}"], fractions))
    assert aucs["perfect"][0] < aucs["random"][0] - 0.05  # deletion: lower is better
    assert aucs["perfect"][1] > aucs["random"][1] + 0.05  # insertion: higher is better


def tiny_model(seed: int = 1) -> TwoStreamNet:
    torch.manual_seed(seed)
    return TwoStreamNet(ModelConfig(width=4), ProcessConfig(frames=8, size=SIZE)).eval()


def clip_inputs():
    generator = torch.Generator().manual_seed(3)
    return torch.randn(3, 8, SIZE, SIZE, generator=generator), torch.randn(2, 7, SIZE, SIZE, generator=generator)


def edge_maps(rgb, flow):
    """A 'method' that never looks at the model: the image's own edges."""
    def edges(x):
        return (x.diff(dim=-1, prepend=x[..., :1]).abs() + x.diff(dim=-2, prepend=x[..., :1, :]).abs()).sum(0)
    return edges(rgb), edges(flow)


def test_randomization_breaks_weight_dependent_methods_but_not_an_edge_detector():
    model, (rgb, flow) = tiny_model(), clip_inputs()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = grade.GradeSettings()
    final = {}
    for name in ("Saliency", "Grad-CAM"):
        maps_of = grade.method_maps(name, rgb, flow, 2, True, settings)
        cascade = quality.randomization_correlations(model, maps_of, maps_of(model))
        assert [step for step, *_ in cascade][:4] == ["classifier", "fc", "fusion", "attention"]
        final[name] = cascade[-1][1:]
    edges = quality.randomization_correlations(model, lambda _: edge_maps(rgb, flow), edge_maps(rgb, flow))
    assert all(rho < grade.SANITY_MAX_SPEARMAN for rhos in final.values() for rho in rhos)
    assert edges[-1][1:] == pytest.approx((1.0, 1.0))  # unchanged: it would be flagged
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the shared model is untouched


def test_causal_agreement_ranks_regions_by_relevance_against_their_effect():
    """Three regions in separate corners: a map whose mass per region follows the regions' effects agrees (+1), the
    reversed map disagrees (-1), a flat effect has no ranking (NaN)."""
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [40.0, 40.0, 50.0, 50.0]]]).expand(4, 3, 4)
    dependence = torch.tensor([0.6, 0.1, -0.05])
    maps = torch.zeros(4, SIZE, SIZE)
    for (x0, y0, x1, y1), weight in zip(boxes[0].int().tolist(), (3.0, 2.0, 1.0)):
        maps[:, y0:y1, x0:x1] = weight
    assert grade.causal_agreement(maps, boxes, dependence) == pytest.approx(1.0)
    assert grade.causal_agreement(maps.flip(-1).flip(-2), boxes, dependence) == pytest.approx(-1.0)
    assert math.isnan(grade.causal_agreement(maps, boxes, torch.zeros(3)))


def test_integrated_gradients_becomes_complete_as_steps_grow():
    """The frozen real-face network is far from linear (max pools, a softmax per frame): 32 steps leave a gap that
    the grading reports, and the attributions add up to the score change once the path is finely sampled."""
    model, (rgb, flow) = tiny_model(), clip_inputs()
    coarse, fine = (grade.completeness_error(model, rgb, flow, 2, True, steps=s, method="Integrated Gradients")
                    for s in (32, 512))
    assert fine <= 0.05 and fine < coarse


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory):
    """A tiny corpus, a tiny random checkpoint, and the CLI's report on two of its Test clips."""
    root = tmp_path_factory.mktemp("grade")
    write_corpus(["--out", str(root / "corpus"), "--scale", "0.01", "--workers", "2"])
    torch.manual_seed(0)
    save_checkpoint(root / "tiny", TwoStreamNet(ModelConfig(width=4), ProcessConfig()).eval(), ProcessConfig())
    out = root / "report.csv"
    assert grade_command.main(["--checkpoint", str(root / "tiny"), "--data", str(root / "corpus"), "--clips", "2",
                       "--check-clips", "1", "--methods", *CLI_METHODS, "--attention-modes", "on", "--ig-steps", "8",
                       "--workers", "2", "--out", str(out)]) == 0
    return root, out


def test_the_cli_and_the_page_function_give_the_same_numbers(cli_report):
    root, out = cli_report
    written = grade.load_report(out)
    assert set(written.table.columns) == {"method", "stream", "attention", "metric", "mean", "ci_low", "ci_high",
                                          "random_mean", "n", "flag"}
    assert {"pointing_game_apex", "deletion_spatial_auc", "randomization_spearman", "completeness_error",
            "causal_agreement"} <= set(written.table.metric)
    assert {"deletion_temporal", "randomization"} <= set(written.curves.curve)
    assert grade.verdicts(written.table)

    settings = grade.GradeSettings(methods=CLI_METHODS, attention=(True,), clips=2, check_clips=1, ig_steps=8)
    direct = grade.grade_corpus(root / "tiny", root / "corpus", "Test", settings)  # what the page runs: in-process
    # Equal up to float summation order: the CLI's one-thread workers and this two-thread process add differently.
    for cli, page in ((written.table, direct.table), (written.curves, direct.curves)):
        pd.testing.assert_frame_equal(cli, page.reset_index(drop=True), check_dtype=False, rtol=1e-3, atol=1e-4)


def test_the_page_shows_a_shipped_report(cli_report, monkeypatch):
    root, out = cli_report
    assets = root / "assets"
    save_checkpoint(assets / "checkpoints" / "two_stream_attention",
                    TwoStreamNet(ModelConfig(width=4), ProcessConfig()).eval(), ProcessConfig())
    monkeypatch.setenv("LAB_ASSETS", str(assets))
    grade.save_report(grade.load_report(out), grade.results_path("two_stream_attention"))
    monkeypatch.setenv("LAB_RUNS", str(root / "runs"))
    monkeypatch.setenv("LAB_DATA", str(root / "corpus"))
    page = AppTest.from_file("../../pages/explanation_quality.py", default_timeout=30).run()
    assert not page.exception
    assert any("Saliency on the spatial stream" in m.value for m in page.markdown)
    assert page.dataframe and page.get("plotly_chart")
