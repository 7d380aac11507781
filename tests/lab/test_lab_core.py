"""The lab's logic without a browser: pictures, videos, confusion tables, attention read-outs, uploads."""
import io

import av
import numpy as np
import pandas as pd
import pytest
import torch

from lab import attention, confusion, figures, visuals
from lab.analysis import save_upload
from lab.video_export import browser_playable, webm_bytes
from model.config import CLASSES
from model.data.video import ClipError
from model.network import AttentionWeights, stream_grid


def test_overlay_keeps_irrelevant_pixels_and_heats_relevant_ones():
    image = np.full((8, 8, 3), 100, np.uint8)
    relevance = np.zeros((8, 8), np.float32)
    relevance[2, 3] = 1.0
    out = visuals.overlay(image, relevance)
    assert (out[0, 0] == image[0, 0]).all()
    assert not (out[2, 3] == image[2, 3]).all()


def test_overlay_all_uses_one_scale_for_the_clip():
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 0.1)])
    units = visuals.normalize_maps(maps)
    assert units[0].max() == pytest.approx(1.0) and units[1].max() == pytest.approx(0.1)


def test_signed_maps_keep_their_sign_on_a_diverging_scale_and_opacity_fades_them():
    maps = np.zeros((1, 4, 4), np.float32)
    maps[0, 0, 0], maps[0, 3, 3] = 2.0, -2.0
    units = visuals.normalize_maps(maps, percentile=100, signed=True)
    assert units[0, 0, 0] == pytest.approx(1.0) and units[0, 3, 3] == pytest.approx(-1.0)
    grey = np.full((4, 4, 3), 128, np.uint8)
    out = visuals.overlay(grey, units[0], alpha=1.0, signed=True)
    assert out[0, 0, 0] > out[0, 0, 2] and out[3, 3, 2] > out[3, 3, 0]  # red for, blue against
    assert (out[1, 1] == grey[1, 1]).all()  # zero relevance keeps the picture
    assert (visuals.overlay(grey, units[0], alpha=0.0, signed=True) == grey).all()  # opacity 0: the picture alone
    bar = visuals.colour_bar(signed=True, width=120)
    assert bar.shape[1] == 120 and bar[0, 0, 2] > bar[0, 0, 0] and bar[0, -1, 0] > bar[0, -1, 2]


def test_frame_panel_explains_the_first_frame_and_starts_on_the_most_relevant_one():
    from lab.attribution import Attribution
    from lab.explain import Explanation, MapStyle, frame_panel

    rgb = torch.zeros(3, 4, 8, 8)
    rgb[:, 2] = 1.0  # all of the spatial relevance on frame 2
    flow = torch.zeros(2, 3, 8, 8)
    importance = pd.DataFrame({"frame": range(4), "time_s": [0.0, 0.1, 0.2, 0.3], "spatial": [0, 0, 1.0, 0],
                               "temporal": [np.nan, 0, 0, 0]})
    shown = Explanation(Attribution("m", 0, rgb, flow), np.zeros((4, 8, 8, 3), np.uint8),
                        np.zeros((3, 8, 8, 3), np.uint8), importance, 0.0)
    assert shown.most_relevant_frame() == 2
    first = frame_panel(shown, 0, MapStyle(), side=96)
    assert first.shape == (96, 2 * 96 + 4, 3)
    assert (first[:, 96 + 4:] > 200).any(), "frame 0's motion half says in words why it is empty"
    with_legend = frame_panel(shown, 2, MapStyle(signed=True), side=96, legend=True)
    assert with_legend.shape[0] > 96 and not shown.has_sign


def test_flow_colours_encode_direction_as_hue_and_speed_as_brightness():
    flow = np.zeros((1, 4, 4, 2), np.float32)
    flow[0, 0, 0] = (1, 0)  # right
    flow[0, 0, 1] = (-1, 0)  # left
    flow[0, 0, 2] = (0.5, 0)  # right, slower
    rgb = visuals.flow_to_rgb(flow, max_magnitude=1.0)[0].astype(int)
    assert (rgb[1, 1] == 0).all(), "no motion is black"
    assert not (rgb[0, 0] == rgb[0, 1]).all(), "opposite directions get different colours"
    assert rgb[0, 0].max() > rgb[0, 2].max(), "faster is brighter"
    assert visuals.colour_wheel(32).shape == (32, 32, 3)


def test_montage_and_png():
    tiles = np.zeros((5, 4, 6, 3), np.uint8)
    grid = visuals.montage(tiles, columns=3, gap=1)
    assert grid.shape == (2 * 4 + 1, 3 * 6 + 2, 3)
    assert visuals.png_bytes(grid).startswith(b"\x89PNG")


def test_webm_export_decodes_as_vp9():
    frames = np.random.default_rng(0).integers(0, 255, (6, 33, 47, 3), dtype=np.uint8)  # odd sides are padded
    data = webm_bytes(frames, fps=5)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert stream.codec_context.name == "vp9"
    assert len(decoded) == 6 and (decoded[0].width, decoded[0].height) == (48, 34)


def test_browser_playable_transcodes_once(lab_env, tmp_path):
    from lab import sources
    clip = sources.sample_clips()[0]
    first = browser_playable(clip, tmp_path)
    assert first.suffix == ".webm" and first.stat().st_size > 0
    assert browser_playable(clip, tmp_path) == first


def table(rows):
    probabilities = {c: [1.0 if prediction == c else 0.0 for _, prediction in rows] for c in CLASSES}
    return pd.DataFrame({"clip": [f"c{i}.avi" for i in range(len(rows))], "split": "Val",
                         "label": [label for label, _ in rows], "prediction": [p for _, p in rows], **probabilities})


def test_probability_axis_reads_no_more_than_certainty():
    """The axis leaves room above a 100% bar for its label, but never labels a probability over 100%."""
    probabilities = pd.DataFrame({"on": [1.0] + [0.0] * 6}, index=list(CLASSES))
    axis = figures.probability_bars(probabilities).layout.yaxis
    assert axis.range[1] > 1 and max(axis.tickvals) == 1


def test_confusion_by_split_counts_metrics_and_unlabelled_splits():
    tables = {"Test": table([("", "Happy")]), "Val": table([("Happy", "Happy"), ("Happy", "Sad"), ("Sad", "Sad")])}
    result = confusion.confusion_by_split(tables)
    assert list(result) == ["Val", "Test"]
    val = result["Val"]
    happy, sad = CLASSES.index("Happy"), CLASSES.index("Sad")
    assert val.counts[happy, happy] == 1 and val.counts[happy, sad] == 1 and val.counts.sum() == 3
    assert val.rates[happy, sad] == pytest.approx(0.5)
    assert val.metrics["war"] == pytest.approx(2 / 3, abs=1e-4) and val.metrics["uar"] == pytest.approx(0.75)
    assert result["Test"].counts is None and result["Test"].clips == 1
    assert next(iter(confusion.cells(result))) == ("Val", "Happy", "Sad"), "errors come first"
    assert confusion.cell_clips(tables["Val"], "Happy", "Sad")["clip"].tolist() == ["c1.avi"]
    off = confusion.confusion_by_split({"Val": table([("Happy", "Sad"), ("Happy", "Sad"), ("Sad", "Sad")])})["Val"]
    assert confusion.rate_difference(val, off)[happy, happy] == pytest.approx(0.5)


def test_clicked_cell_reads_plotly_selection_state():
    state = {"selection": {"points": [{"x": "Sad", "y": "Happy"}]}}
    assert confusion.clicked_cell({"Train": None, "Val": state}) == ("Val", "Happy", "Sad")
    assert confusion.clicked_cell({"Val": {"selection": {"points": []}}}) is None


def attention_of_one_clip() -> AttentionWeights:
    """Random weights over the grids of 4 frames and 5 flow fields (2 and 3 token times, 2 x 2 regions each)."""
    spatial, temporal = stream_grid(4, 32, 1), stream_grid(5, 32, 1)
    return AttentionWeights(torch.rand(1, 8, 12).softmax(-1), torch.rand(1, 12, 8).softmax(-1), spatial, temporal)


def test_attention_time_matrix_rows_sum_to_one_and_query_maps_have_key_grid():
    read = attention_of_one_clip()
    matrix = attention.time_to_time(read, "spatial_to_temporal")
    assert matrix.shape == (2, 3) and np.allclose(matrix.sum(1), 1)
    assert attention.time_to_time(read, "temporal_to_spatial").shape == (3, 2)
    assert attention.query_map(read, "spatial_to_temporal", 1, 0, 1).shape == (3, 2, 2)
    assert np.allclose(attention.query_map(read, "spatial_to_temporal", 0).sum(), 1)


def test_attention_is_labelled_and_pictured_with_the_frames_each_token_time_covers():
    read = attention_of_one_clip()
    view = attention.direction_view(read, "spatial_to_temporal")
    assert view.query_labels == ["frames 0–1", "frames 2–3"]  # crops 0..3
    assert view.key_labels == ["frames 1–2", "frames 3–4", "frame 5"]  # flow field i leads to frame i + 1
    assert view.regions == [None, (0, 0), (0, 1), (1, 0), (1, 1)]
    flow_pictures = np.stack([np.full((4, 4, 3), 10 * i, np.uint8) for i in range(5)])
    montage = attention.attention_montage(flow_pictures, np.zeros((3, 2, 2)), read.temporal)
    assert [montage[0, tile * (4 + 2), 0] for tile in range(3)] == [0, 20, 40]  # each time's first flow field


def test_save_upload_refuses_non_videos_and_keeps_names_safe(tmp_path):
    with pytest.raises(ClipError):
        save_upload(b"x", "notes.txt", tmp_path)
    path = save_upload(b"x", "../../evil name.mp4", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".mp4"
