import torch

from model.config import ModelConfig
from model.network import TwoStreamNet, token_grid

SMALL = dict(frames=8, size=32, width=4, attention_dim=8)


def clip(batch=2, frames=8, size=32):
    torch.manual_seed(0)
    return torch.randn(batch, 3, frames, size, size), torch.randn(batch, 2, frames - 1, size, size)


def test_output_shapes_for_every_variant():
    rgb, flow = clip()
    for streams in ("both", "spatial", "temporal", "frame"):
        model = TwoStreamNet(ModelConfig(streams=streams, **SMALL)).eval()
        assert model(rgb, flow).shape == (2, 7)


def test_attention_weights_are_returned_and_are_distributions():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL)).eval()
    logits, weights = model(rgb, flow, return_attention=True)
    s_tokens = torch.Size(token_grid(8, 32)).numel()
    t_tokens = torch.Size(token_grid(7, 32)).numel()
    assert weights["spatial_to_temporal"].shape == (2, s_tokens, t_tokens)
    assert weights["temporal_to_spatial"].shape == (2, t_tokens, s_tokens)
    assert torch.allclose(weights["spatial_to_temporal"].sum(-1), torch.ones(2, s_tokens), atol=1e-5)
    assert weights["spatial_grid"] == token_grid(8, 32)


def test_attention_switch_is_per_call_and_changes_nothing_in_the_model():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL)).eval()
    with torch.no_grad():  # give the zero-initialized up-projections weights, as training would
        model.attention.spatial_up.weight.normal_()
        model.attention.temporal_up.weight.normal_()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    on = model(rgb, flow)
    off, weights = model(rgb, flow, inter_stream_attention=False, return_attention=True)
    assert weights is None
    assert not torch.allclose(on, off)
    assert torch.equal(model(rgb, flow), on)  # switching off left no trace
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_model_without_module_ignores_the_switch():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(inter_stream_attention=False, **SMALL)).eval()
    assert model.attention is None
    assert torch.equal(model(rgb, flow), model(rgb, flow, inter_stream_attention=False))


def test_frame_baseline_ignores_frame_order():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(streams="frame", **SMALL)).eval()
    shuffled = rgb[:, :, torch.randperm(8)]
    assert torch.allclose(model(rgb, flow), model(shuffled, flow), atol=1e-5)


def test_stream_heads_give_each_stream_its_own_logits_and_leave_the_output_alone():
    rgb, flow = clip()
    model = TwoStreamNet(ModelConfig(**SMALL)).eval()
    logits, (spatial, temporal) = model(rgb, flow, return_stream_logits=True)
    assert logits.shape == spatial.shape == temporal.shape == (2, 7)
    assert not torch.allclose(spatial, temporal)
    assert torch.equal(model(rgb, flow), logits)
    logits, weights, stream_logits = model(rgb, flow, return_attention=True, return_stream_logits=True)
    assert weights is not None and len(stream_logits) == 2
    without = TwoStreamNet(ModelConfig(stream_heads=False, **SMALL)).eval()
    assert without.stream_heads is None and without(rgb, flow, return_stream_logits=True)[1] == []
    single = TwoStreamNet(ModelConfig(streams="temporal", **SMALL)).eval()
    assert single.stream_heads is None  # one stream: its classifier is the model's own
