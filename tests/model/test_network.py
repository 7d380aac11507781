import pytest
import torch

from model.config import AttentionMode, ModelConfig, ProcessConfig
from model.network import TwoStreamNet, stream_grid, with_displacement

SMALL = dict(width=4, attention_dim=8)
PROCESS = ProcessConfig(frames=8, size=32)


def clip(batch=2, frames=8, size=32):
    torch.manual_seed(0)
    return torch.randn(batch, 3, frames, size, size), torch.randn(batch, 2, frames - 1, size, size)


def test_output_shapes_for_every_variant():
    rgb, flow = clip()
    for streams, backbone in (("both", "fer"), ("both", "cnn"), ("spatial", "fer"), ("temporal", "fer"),
                              ("frame", "fer")):
        model = TwoStreamNet(ModelConfig(streams=streams, spatial_backbone=backbone, **SMALL), PROCESS).eval()
        with torch.no_grad():
            assert model(rgb, flow).shape == (2, 7)
            output = model.outputs(rgb, flow)
        assert torch.equal(output.logits, model(rgb, flow))
        assert output.features.shape == (2, model.spatial_grid.channels)


def test_token_grids_are_the_streams_outputs():
    rgb, flow = clip()
    for streams, backbone in (("both", "fer"), ("both", "cnn"), ("frame", "cnn")):
        model = TwoStreamNet(ModelConfig(streams=streams, spatial_backbone=backbone, **SMALL), PROCESS).eval()
        with torch.no_grad():
            spatial = model.spatial(rgb)[0] if model.reads_faces else model.spatial(rgb)
            grids = {"spatial": (spatial, model.spatial_grid)}
            if model.temporal is not None:
                motion = with_displacement(flow, PROCESS.displacement_scale)
                grids["temporal"] = (model.temporal(motion), model.temporal_grid)
        for name, (tokens, grid) in grids.items():
            assert tokens.shape[1:] == (grid.channels, *grid.shape), (streams, backbone, name)
    assert stream_grid(8, 32, 4, temporal=False).times == 8  # the single-frame stream keeps every frame


def test_token_grid_tells_the_frames_of_each_token_time():
    grid = stream_grid(7, 64, 16)  # the flow fields of an 8-frame clip
    assert (grid.times, grid.height, grid.width, grid.channels) == (4, 4, 4, 128)
    assert [list(grid.steps_of(t)) for t in range(grid.times)] == [[0, 1], [2, 3], [4, 5], [6]]
    assert stream_grid(8, 64, 16).tokens == 4 * 16


def test_attention_weights_are_returned_and_are_distributions():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL), PROCESS).eval()
    weights = model.outputs(rgb, flow).attention
    s_tokens, t_tokens = model.spatial_grid.tokens, model.temporal_grid.tokens
    assert (s_tokens, t_tokens) == (4 * 2 * 2, 4 * 2 * 2)
    assert weights.spatial_to_temporal.shape == (2, s_tokens, t_tokens)
    assert weights.temporal_to_spatial.shape == (2, t_tokens, s_tokens)
    assert torch.allclose(weights.spatial_to_temporal.sum(-1), torch.ones(2, s_tokens), atol=1e-5)
    assert (weights.spatial, weights.temporal) == (model.spatial_grid, model.temporal_grid)


def test_an_odd_frame_count_gives_the_streams_different_token_times():
    rgb, flow = clip(frames=7)  # 7 frames make 4 token times, their 6 flow fields 3
    model = TwoStreamNet(ModelConfig(**SMALL), ProcessConfig(frames=7, size=32)).eval()
    weights = model.outputs(rgb, flow).attention
    assert (weights.spatial.times, weights.temporal.times) == (4, 3)
    assert weights.spatial_to_temporal.shape == (2, 4 * 2 * 2, 3 * 2 * 2)
    assert list(weights.spatial.steps_of(3)) == [6]


def test_attention_switch_is_per_call_and_changes_nothing_in_the_model():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL), PROCESS).eval()
    with torch.no_grad():  # give the zero-initialized up-projections weights, as training would
        model.attention.spatial_up.weight.normal_()
        model.attention.temporal_up.weight.normal_()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    on = model(rgb, flow)
    off = model(rgb, flow, attention=AttentionMode.BYPASSED)
    assert model.outputs(rgb, flow, attention="bypassed").attention is None
    assert model.modes == (AttentionMode.ON, AttentionMode.BYPASSED)
    assert torch.equal(model(rgb, flow, attention="on"), on)  # None means the model's own mode, on
    assert not torch.allclose(on, off)
    assert torch.equal(model(rgb, flow), on)  # switching off left no trace
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_model_without_the_module_runs_as_it_is_and_refuses_a_mode_it_cannot_run_in():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(attention="absent", **SMALL), PROCESS).eval()
    assert model.attention is None and model.modes == (AttentionMode.ABSENT,)
    assert torch.equal(model(rgb, flow), model(rgb, flow, attention=AttentionMode.ABSENT))
    for impossible in ("on", "bypassed"):
        with pytest.raises(ValueError, match="absent"):
            model(rgb, flow, attention=impossible)


def test_configs_saved_with_the_old_switch_name_load_in_its_mode():
    assert ModelConfig.from_dict({"inter_stream_attention": True}).attention == "on"
    assert ModelConfig.from_dict({"inter_stream_attention": False}).modes == (AttentionMode.ABSENT,)


def test_frame_baseline_ignores_frame_order():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(streams="frame", **SMALL), PROCESS).eval()
    shuffled = rgb[:, :, torch.randperm(8)]
    assert torch.allclose(model(rgb, flow), model(shuffled, flow), atol=1e-5)


def test_stream_heads_give_each_stream_its_own_logits_and_leave_the_output_alone():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL), PROCESS).eval()
    output = model.outputs(rgb, flow)
    spatial, temporal = output.stream_logits
    assert output.logits.shape == spatial.shape == temporal.shape == (2, 7)
    assert not torch.allclose(spatial, temporal)
    assert torch.equal(model(rgb, flow), output.logits)
    assert output.attention is not None
    without = TwoStreamNet(ModelConfig(stream_heads=False, **SMALL), PROCESS).eval()
    assert without.stream_heads is None and without.outputs(rgb, flow).stream_logits == ()
    single = TwoStreamNet(ModelConfig(streams="temporal", **SMALL), PROCESS).eval()
    assert single.stream_heads is None  # one stream: its classifier is the model's own


def test_a_batch_of_one_clip_changed_in_a_few_frames_is_read_once_per_new_frame_and_as_clip_by_clip(monkeypatch):
    """What Occlusion and the deletion curves send: without autograd, frames that repeat the first clip's are not
    read again, and the logits are those of each clip alone."""
    model = TwoStreamNet(ModelConfig(width=4, attention_dim=8), ProcessConfig(frames=8, size=32)).eval()
    rgb, flow = clip(batch=1)
    rgb, flow = rgb.repeat(4, 1, 1, 1, 1), flow.repeat(4, 1, 1, 1, 1)
    rgb[1, :, 2] = 0  # one frame
    rgb[2, :, 4:, :8] = 0  # the top of the last four
    flow[3] = 0  # the same frames, another motion
    with torch.inference_mode():
        alone = torch.cat([model(rgb[i:i + 1], flow[i:i + 1]) for i in range(4)])
        read = []
        spatial, read_frames = model.spatial, model.spatial._read_frames
        monkeypatch.setattr(spatial, "_read_frames", lambda frames: read.append(len(frames)) or read_frames(frames))
        together = model(rgb, flow)
    assert read == [8 + 1 + 4]
    assert torch.allclose(together, alone, atol=1e-5)
