"""The grading metrics on constructed cases whose answer is known, and the CLI and the page on a tiny corpus."""
import math

import pandas as pd
import pytest
import torch

from cli import grade as grade_command
from cli.corpus import main as write_corpus
from lab.attribution import offered
from lab.grading import measure, runner, stored, verdicts
from model.checkpoint import save_checkpoint
from model.config import AttentionMode, ModelConfig, ProcessConfig
from model.network import TwoStreamNet
from tests.app.test_app_pages import open_page

SIZE = 64
CLI_METHODS = ("Saliency", "Grad-CAM", "Integrated Gradients")


def region_case(frames: int = 200):
    """Per-frame random boxes, each frame with one or two active regions out of three."""
    generator = torch.Generator().manual_seed(0)
    corners = torch.randint(0, SIZE - 12, (frames, 3, 2), generator=generator).float()
    boxes = torch.cat([corners, corners + torch.randint(4, 12, (frames, 3, 2), generator=generator)], -1)
    active = torch.rand(frames, 3, generator=generator) < 0.5
    active[:, 0] = True
    return boxes, active, measure.box_masks(boxes, active, SIZE)


def test_a_map_equal_to_the_truth_scores_the_maximum():
    boxes, active, masks = region_case()
    maps = masks.float()
    assert torch.allclose(measure.mass_accuracy(maps, masks), torch.ones(len(maps)))
    assert torch.allclose(measure.pointing_game(maps, masks), torch.ones(len(maps)))


def test_a_random_map_scores_the_area_share():
    _, _, masks = region_case(400)
    area = masks.float().mean()
    maps = torch.rand(masks.shape, generator=torch.Generator().manual_seed(1))
    assert measure.mass_accuracy(maps, masks).mean() == pytest.approx(float(area), abs=0.01)
    assert measure.pointing_game(maps, masks).mean() == pytest.approx(float(area), abs=0.04)
    flat = torch.zeros_like(maps)  # no relevance at all: the expected value of a guess, not 0/0
    assert torch.allclose(measure.pointing_game(flat, masks), masks.float().mean((1, 2)))


def test_pointing_tolerance_counts_a_near_miss():
    boxes = torch.tensor([[[10.0, 10.0, 20.0, 20.0]]])
    active = torch.tensor([[True]])
    maps = torch.zeros(1, SIZE, SIZE)
    maps[0, 15, 21] = 1.0  # one pixel right of the box
    assert measure.pointing_game(maps, measure.box_masks(boxes, active, SIZE)).item() == 0
    assert measure.pointing_game(maps, measure.box_masks(boxes, active, SIZE, margin=2)).item() == 1


def test_temporal_localization_follows_the_curve():
    curve = torch.tensor([0.0, 0.0, 0.2, 0.8, 1.0, 1.0, 0.5, 0.1])
    maps = curve[:, None, None].expand(-1, 4, 4) + 0.01
    pearson, spearman = measure.curve_correlations(measure.frame_mass(maps), curve)
    assert pearson == pytest.approx(1.0) and spearman == pytest.approx(1.0)
    assert math.isnan(measure.curve_correlations(torch.ones(8), curve)[0])
    window = torch.tensor([False, False, True, True, True, False, False, False])
    assert measure.window_share(curve, window) == pytest.approx(2.0 / 3.6)


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
        curves = runner.faithfulness_curves(predict, (rgb, flow), 0, maps, ends, fractions, generator)
        version = "temporal" if whole_frames else "spatial"
        aucs[name] = (measure.auc(curves[f"deletion_{version}"], fractions),
                      measure.auc(curves[f"insertion_{version}"], fractions))
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
    settings = runner.GradeSettings()
    final = {}
    for name in ("Saliency", "Grad-CAM"):
        maps_of = runner.method_maps(name, rgb, flow, 2, "on", settings)
        cascade = measure.randomization_correlations(model, maps_of, maps_of(model))
        assert [step for step, *_ in cascade][:4] == ["classifier", "fc", "fusion", "attention"]
        final[name] = cascade[-1][1:]
    edges = measure.randomization_correlations(model, lambda _: edge_maps(rgb, flow), edge_maps(rgb, flow))
    assert all(rho < runner.SANITY_MAX_SPEARMAN for rhos in final.values() for rho in rhos)
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
    assert runner.causal_agreement(maps, boxes, dependence) == pytest.approx(1.0)
    assert runner.causal_agreement(maps.flip(-1).flip(-2), boxes, dependence) == pytest.approx(-1.0)
    assert math.isnan(runner.causal_agreement(maps, boxes, torch.zeros(3)))


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_integrated_gradients_becomes_complete_as_steps_grow():
    """The frozen real-face network is far from linear (max pools, a softmax per frame): 32 steps leave a gap that
    the grading reports, and the attributions add up to the score change once the path is finely sampled."""
    model, (rgb, flow) = tiny_model(), clip_inputs()
    coarse, fine = (runner.completeness_error(model, rgb, flow, 2, "on", steps=s, method="Integrated Gradients")
                    for s in (32, 512))
    assert fine <= 0.05 and fine < coarse


def constructed_table(clips: int = 30, check_clips: int = 4) -> pd.DataFrame:
    """A grading table whose verdicts are known: Saliency beats random maps everywhere; Grad-CAM is at chance and
    its spatial maps survive the randomization; Occlusion is better on some measures only; Integrated Gradients has
    only a completeness check, which it fails; attention "bypassed" rows that would read differently."""
    rows = []

    def add(method, stream, metric, mean, random_mean, n=clips, attention="on", half=0.02):
        rows.append(dict(method=method, stream=stream, attention=attention, metric=metric, mean=mean,
                         ci_low=mean - half, ci_high=mean + half, random_mean=random_mean, n=n, flag=""))

    chance = {"mass_accuracy": 0.12, "pointing_game_apex": 0.1, "curve_spearman": 0.0, "deletion_spatial_auc": 0.9,
              "insertion_spatial_auc": 0.5, "deletion_temporal_auc": 0.9, "insertion_temporal_auc": 0.5,
              "causal_agreement": 0.0}
    good = {"mass_accuracy": 0.4, "pointing_game_apex": 0.7, "curve_spearman": 0.6, "deletion_spatial_auc": 0.5,
            "insertion_spatial_auc": 0.9, "deletion_temporal_auc": 0.5, "insertion_temporal_auc": 0.9,
            "causal_agreement": 0.6}
    for stream in runner.STREAMS:
        for metric, level in chance.items():
            add(runner.RANDOM, stream, metric, level, level)
            add("Saliency", stream, metric, good[metric], level)
            add("Grad-CAM", stream, metric, level, level)
            add("Saliency", stream, metric, level, level, attention="bypassed")
        for metric in ("mass_accuracy", "pointing_game_apex", "curve_spearman"):  # better on one, then on two of three
            better = metric == "mass_accuracy" or (stream == "temporal" and metric == "curve_spearman")
            add("Occlusion", stream, metric, good[metric] if better else chance[metric], chance[metric])
        add("Occlusion", stream, "causal_agreement", 0.2, 0.0)  # better than random, yet a weak rank correlation
        add("Saliency", stream, "randomization_spearman", 0.1, math.nan, n=check_clips)
        add("Saliency", stream, "randomization_spearman", 0.9, math.nan, n=check_clips, attention="bypassed")
        add("Grad-CAM", stream, "randomization_spearman", 0.9 if stream == "spatial" else 0.1, math.nan,
            n=check_clips)
    add("Integrated Gradients", "both", "completeness_error", 0.2, math.nan, n=check_clips)
    return pd.DataFrame(rows)


def test_the_grouped_verdicts_say_passes_weak_or_fails_per_method():
    by_method = verdicts.method_verdicts(constructed_table()).set_index("Method")
    assert list(by_method.columns) == ["Localization", "Faithfulness", "Sanity check", "Causal agreement",
                                      "Completeness"]
    assert list(by_method.index) == ["Saliency", "Occlusion", "Integrated Gradients", "Grad-CAM"]  # best graded first
    assert by_method.loc["Saliency"].tolist() == ["passes", "passes", "passes (4 clips)", "passes", "does not apply"]
    assert by_method.loc["Grad-CAM", "Localization"] == "fails" and by_method.loc["Grad-CAM", "Faithfulness"] == "fails"
    assert by_method.loc["Grad-CAM", "Sanity check"] == "spatial fails, temporal passes (4 clips)"
    assert by_method.loc["Occlusion", "Localization"] == "spatial weak, temporal passes"
    assert by_method.loc["Occlusion", "Causal agreement"] == "weak"
    assert by_method.loc["Occlusion", "Sanity check"] == "not measured"
    assert by_method.loc["Integrated Gradients", "Completeness"] == "fails (off by 20.0%, 4 clips)"
    rows = verdicts.method_verdicts(constructed_table()).to_dict("records")
    assert [verdicts.method_sentence(row) for row in rows] == [
        "**Saliency**: trust it for what the decision rests on, where the facial action is and which facial regions "
        "the answer depends on.",
        "**Occlusion**: trust it only roughly for where the facial action is and which facial regions the answer "
        "depends on.",  # localization passes on one stream only; faithfulness not measured
        "**Integrated Gradients**: its relevance does not add up to the change of the class score (more integration "
        "steps help).",
        "**Grad-CAM**: not for what the decision rests on, where the facial action is and which facial regions the "
        "answer depends on; its spatial maps fail the randomization check, so read those as edges.",
    ]
    off = verdicts.method_verdicts(constructed_table(), "bypassed").set_index("Method")
    assert off.loc["Saliency", "Sanity check"] == "fails (4 clips)" and off.loc["Saliency", "Faithfulness"] == "fails"
    lines = verdicts.verdicts(constructed_table())
    assert lines[0].startswith("Saliency (attention on): localization passes; faithfulness passes; sanity check passes")
    assert any(line.startswith("Grad-CAM (attention on): localization fails; faithfulness fails; sanity check spatial")
               for line in lines)
    assert any(line.startswith("Saliency (attention bypassed)") for line in lines)


def test_few_clips_carry_a_small_sample_warning():
    assert verdicts.small_sample_warnings(constructed_table(clips=30, check_clips=25)) == []
    warnings = verdicts.small_sample_warnings(constructed_table(clips=12, check_clips=3))
    assert len(warnings) == 5 and all("under 20" in w for w in warnings)
    assert any(w.startswith("Sanity check measured on 3 clips only") for w in warnings)
    assert any(w.startswith("Localization measured on 12 clips only") for w in warnings)
    by_method = verdicts.method_verdicts(constructed_table(clips=12)).set_index("Method")
    assert by_method.loc["Saliency", "Faithfulness"] == "passes (12 clips)"
    one = constructed_table(clips=1)  # one clip has no interval: no comparison with random maps at all
    assert verdicts.method_verdicts(one).set_index("Method").loc["Saliency", "Localization"] == "too few clips (1 clip)"


def test_the_measurements_have_named_columns_grouped_by_method():
    table = verdicts.measurement_table(constructed_table())
    assert list(table.columns[:3]) == ["Method", "Stream", "Clips"]
    assert "Deletion (spatial, lower is better)" in table.columns
    assert "Similarity after randomizing the model (lower is better)" in table.columns
    assert not set(table.columns) & (set(verdicts.METRIC_LABELS) | {"flag", "mean", "ci_low", "random_mean"})
    assert table.Method.tolist() == [m for m in ("Grad-CAM", "Saliency", "Occlusion", verdicts.RANDOM_NAME)
                                     for _ in range(2)]
    assert table.Stream.tolist()[:2] == ["spatial (the frames)", "temporal (the motion)"]
    saliency = table[table.Method == "Saliency"].iloc[0]
    assert saliency["Deletion (spatial, lower is better)"] == pytest.approx(0.5)
    assert verdicts.measurement_table(constructed_table(), methods=["Occlusion"]).Method.unique().tolist() == [
        "Occlusion", verdicts.RANDOM_NAME]
    assert verdicts.report_summary(constructed_table()) == ("4 methods graded on up to 30 clips, with the inter-stream "
                                                         "attention module on and bypassed")
    causal = verdicts.metric_detail(constructed_table(), "causal_agreement")
    assert list(causal.columns) == ["Method", "Stream", "Mean", "95% CI from", "to", "Random maps", "Clips"]
    assert causal.Method.tolist()[:2] == ["Grad-CAM", "Grad-CAM"]


def test_method_grades_read_the_shipped_table_of_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_ASSETS", str(tmp_path))
    assert verdicts.method_grades(None) == {} and verdicts.method_grades("two_stream_attention") == {}
    path = stored.results_path("two_stream_attention")
    path.parent.mkdir(parents=True)
    constructed_table().to_csv(path, index=False)
    grades = verdicts.method_grades("two_stream_attention")
    assert list(grades) == ["Saliency", "Occlusion", "Integrated Gradients", "Grad-CAM"], "best graded first"
    assert grades["Saliency"] == ("Faithfulness: passes (30 clips) · Sanity check: passes (4 clips) · Localization: "
                                  "passes (30 clips) · Causal agreement: passes (30 clips) · under 20 clips, a grade "
                                  "is a hint")
    assert grades["Grad-CAM"].startswith("Fails the randomization check on the spatial stream: read it as an edge map")
    assert "Faithfulness: fails (30 clips)" in grades["Grad-CAM"]
    assert "Localization: spatial weak, temporal passes (30 clips)" in grades["Occlusion"]
    assert grades["Integrated Gradients"].count("not measured") == 4
    bypassed = verdicts.method_grades("two_stream_attention", "bypassed")
    assert list(bypassed) == ["Saliency"] and bypassed["Saliency"].startswith("Fails the randomization check on both")
    assert verdicts.method_grades("two_stream_attention") == grades  # deterministic
    assert verdicts.method_grades("two_stream_no_attention") == {}

    ranked = verdicts.ranked_methods("two_stream_attention")
    assert ranked[0] == "Saliency" and ranked[-1] == "Grad-CAM", "the best graded first; a failed sanity check last"
    assert set(ranked) == set(grades) and verdicts.ranked_methods("two_stream_no_attention") == []


SHIPPED_MODES = {"two_stream_attention": ["on", "bypassed"], "two_stream_no_attention": ["absent"]}


def shipped_graded_methods(name: str) -> set[str]:
    table = stored.load_table(stored.results_path(name))
    return set(table[table.attention == SHIPPED_MODES[name][0]].method) - {runner.RANDOM}


def test_the_shipped_grades_are_of_offered_methods_in_each_mode_and_the_lab_reads_them_all(monkeypatch):
    monkeypatch.delenv("LAB_ASSETS", raising=False)  # the shipped assets, whatever a lab fixture pointed at before
    for name, modes in SHIPPED_MODES.items():
        table = stored.load_table(stored.results_path(name))
        assert verdicts.attention_settings(table) == modes, name
        own = table[table.attention == modes[0]]
        assert shipped_graded_methods(name) <= set(offered()), f"{name} grades a method the lab no longer offers"
        assert {"causal_agreement", "randomization_spearman", "deletion_spatial_auc"} <= set(own.metric), name
        assert set(verdicts.method_grades(name)) == shipped_graded_methods(name)  # a new method reads "not graded"


@pytest.mark.release
def test_the_release_grades_every_offered_method(monkeypatch):
    """Before a release (``make release-check``), not in the default run: a new method passes ``make test`` before
    the shipped checkpoints are regraded with it."""
    monkeypatch.delenv("LAB_ASSETS", raising=False)
    for name in SHIPPED_MODES:
        assert set(offered()) <= shipped_graded_methods(name), name


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory):
    """A tiny corpus, a tiny random checkpoint, and the CLI's report on two of its Test clips."""
    root = tmp_path_factory.mktemp("grade")
    write_corpus(["--out", str(root / "corpus"), "--scale", "0.01", "--workers", "2"])
    torch.manual_seed(0)
    save_checkpoint(root / "tiny", TwoStreamNet(ModelConfig(width=4), ProcessConfig()).eval(), ProcessConfig())
    out = root / "report.csv"
    assert grade_command.main(["--checkpoint", str(root / "tiny"), "--data", str(root / "corpus"), "--clips", "2",
                       "--check-clips", "1", "--methods", *CLI_METHODS, "--attention", "on", "--ig-steps", "8",
                       "--workers", "2", "--out", str(out)]) == 0
    return root, out


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_the_cli_and_the_page_function_give_the_same_numbers(cli_report):
    root, out = cli_report
    written = stored.load_report(out)
    assert set(written.table.columns) == {"method", "stream", "attention", "metric", "mean", "ci_low", "ci_high",
                                          "random_mean", "n", "flag"}
    assert {"pointing_game_apex", "deletion_spatial_auc", "randomization_spearman", "completeness_error",
            "causal_agreement"} <= set(written.table.metric)
    assert {"deletion_temporal", "randomization"} <= set(written.curves.curve)
    assert verdicts.verdicts(written.table)

    settings = runner.GradeSettings(methods=CLI_METHODS, attention=(AttentionMode.ON,), clips=2, check_clips=1,
                                   ig_steps=8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CLI's workers run one thread each: the same float summation order
    try:
        direct = runner.grade_corpus(root / "tiny", root / "corpus", "Test", settings)  # what the page runs
    finally:
        torch.set_num_threads(threads)
    for cli, page in ((written.table, direct.table), (written.curves, direct.curves)):
        pd.testing.assert_frame_equal(cli, page.reset_index(drop=True), check_dtype=False, rtol=1e-3, atol=1e-4)


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_the_page_shows_a_shipped_report(cli_report, monkeypatch):
    root, out = cli_report
    assets = root / "assets"
    save_checkpoint(assets / "checkpoints" / "two_stream_attention",
                    TwoStreamNet(ModelConfig(width=4), ProcessConfig()).eval(), ProcessConfig())
    monkeypatch.setenv("LAB_ASSETS", str(assets))
    stored.save_report(stored.load_report(out), stored.results_path("two_stream_attention"))
    monkeypatch.setenv("LAB_RUNS", str(root / "runs"))
    monkeypatch.setenv("LAB_DATA", str(root / "corpus"))
    page = open_page("pages/explanation_quality.py")  # through the entry that draws the sidebar
    by_method, measurements = page.table[0].value, page.table[1].value
    assert list(by_method.columns[:4]) == ["Localization", "Faithfulness", "Sanity check", "Causal agreement"]
    assert set(by_method.index) == set(CLI_METHODS)
    assert "Deletion (spatial, lower is better)" in measurements.index and "flag" not in measurements.index
    assert set(CLI_METHODS) < set(measurements.columns), "a column per method (and random maps)"
    assert any("measured on 1 clip only" in w.value for w in page.warning)  # two clips, one of them checked
    assert page.get("plotly_chart")
    assert "two_stream_attention" in page.success[0].value


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_the_page_shows_the_table_of_the_checkpoint_the_sidebar_picked(cli_report, monkeypatch):
    root, out = cli_report
    assets = root / "assets_both"
    for name in ("two_stream_attention", "two_stream_no_attention"):
        save_checkpoint(assets / "checkpoints" / name, TwoStreamNet(ModelConfig(width=4), ProcessConfig()).eval(),
                        ProcessConfig())
    monkeypatch.setenv("LAB_ASSETS", str(assets))
    report = stored.load_report(out)
    stored.save_report(report, stored.results_path("two_stream_no_attention"))
    monkeypatch.setenv("LAB_RUNS", str(root / "runs"))
    monkeypatch.setenv("LAB_DATA", str(root / "corpus"))
    page = open_page("pages/explanation_quality.py")  # through the entry that draws the sidebar
    page.selectbox(key="checkpoint").select("two_stream_no_attention").run()
    assert not page.exception
    assert "two_stream_no_attention" in page.success[0].value
    page.selectbox(key="checkpoint").select("two_stream_attention").run()  # no table shipped for it here
    assert not page.success and any("No precomputed results" in i.value for i in page.info)


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_a_session_grading_run_is_shown_apart_from_the_shipped_grades(cli_report, monkeypatch):
    root, out = cli_report
    assets = root / "assets_session"
    save_checkpoint(assets / "checkpoints" / "two_stream_attention", TwoStreamNet(ModelConfig(width=4),
                                                                                    ProcessConfig()).eval(),
                    ProcessConfig())
    monkeypatch.setenv("LAB_ASSETS", str(assets))
    stored.save_report(stored.load_report(out), stored.results_path("two_stream_attention"))
    monkeypatch.setenv("LAB_RUNS", str(root / "runs"))
    monkeypatch.setenv("LAB_DATA", str(root / "corpus"))
    page = open_page("pages/explanation_quality.py")
    assert "quality_source" not in [r.key for r in page.radio]  # only the shipped grades: nothing to pick
    page.number_input(key="grade_clips").set_value(1)
    page.number_input(key="grade_check_clips").set_value(0)
    page.multiselect(key="grade_methods").set_value(["Saliency"])
    next(b for b in page.button if b.label == "Grade").click().run(timeout=240)
    assert not page.exception
    source = page.radio(key="quality_source")
    assert source.value == "session" and page.table[0].value.index.tolist() == ["Saliency"]
    source.set_value("shipped").run()
    assert set(page.table[0].value.index) == set(CLI_METHODS)  # the shipped table, untouched by the run
