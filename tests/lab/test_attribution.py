"""The contract every registered attribution method keeps, on a tiny network of each stream layout, and the
hand-written Grad-CAM against Captum's own."""
import copy
from dataclasses import replace

import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam

from lab.attribution import METHODS, attribute, baseline, fast, method_named, offered
from model.network import TwoStreamNet
from tests.conftest import TINY_MODEL, TINY_PROCESS

STREAM_LAYOUTS = ("both", "spatial", "temporal")
TARGET = 2
FEW = {"steps": 4, "samples": 2}  # integration steps and noisy samples: enough to exercise them, quick


@pytest.fixture(scope="module")
def models() -> dict[str, TwoStreamNet]:
    torch.manual_seed(0)
    return {layout: TwoStreamNet(replace(TINY_MODEL, streams=layout), TINY_PROCESS) for layout in STREAM_LAYOUTS}


@pytest.fixture(scope="module")
def clip() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    frames, size = TINY_PROCESS.frames, TINY_PROCESS.size
    return (torch.randn(3, frames, size, size, generator=generator),
            torch.randn(2, frames - 1, size, size, generator=generator))


def hooks_left(model: TwoStreamNet) -> list[str]:
    return [name for name, module in model.named_modules()
            if module._forward_hooks or module._forward_pre_hooks or module._backward_hooks]


@pytest.mark.parametrize("layout", STREAM_LAYOUTS)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_the_contract(models, clip, method, layout):
    """Input-shaped attributions, relevance on every stream the model has and exact zeros on a missing one, and the
    shared model exactly as it was: tensors, training flags (it is left in training mode on purpose), no hooks."""
    model = models[layout].train()
    tensors = {name: t.clone() for name, t in (*model.named_parameters(), *model.named_buffers())}
    flags = [module.training for module in model.modules()]
    rgb, flow = clip

    result = attribute(model, rgb, flow, TARGET, method, **FEW)

    assert (result.method, result.target) == (method, TARGET)
    assert result.rgb.shape == rgb.shape and result.flow.shape == flow.shape
    for stream, attribution in ((model.spatial, result.rgb), (model.temporal, result.flow)):
        if stream is None:
            assert torch.equal(attribution, torch.zeros_like(attribution))
        else:
            assert torch.isfinite(attribution).all() and attribution.abs().sum() > 0
    assert all(torch.equal(tensors[name], t) for name, t in (*model.named_parameters(), *model.named_buffers()))
    assert [module.training for module in model.modules()] == flags
    assert not hooks_left(model)


def test_grad_cam_equals_captums_layer_grad_cam(models, clip):
    """One pass for both streams gives what Captum's LayerGradCam gives per stream, upsampled the same way."""
    model = copy.deepcopy(models["both"]).eval()  # Captum hooks this copy, not the one the contract test checks
    rgb, flow = clip
    ours = attribute(model, rgb, flow, TARGET, "Grad-CAM")
    for stream, x, attribution in ((model.spatial, rgb, ours.rgb), (model.temporal, flow, ours.flow)):
        cam = LayerGradCam(model, stream.last_conv).attribute((rgb[None], flow[None]), target=TARGET,
                                                               relu_attributions=True)
        upsampled = LayerAttribution.interpolate(cam.detach(), tuple(x.shape[1:]), interpolate_mode="trilinear")[0]
        expected = upsampled.expand_as(x) / x.shape[0]
        assert expected.abs().sum() > 0
        torch.testing.assert_close(attribution, expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))


def test_the_registry_offers_every_method_but_the_baseline_and_refuses_unknown_names():
    assert baseline().name in METHODS and baseline().name not in offered()
    assert set(fast()) <= set(offered()) and len(offered()) == len(METHODS) - 1
    with pytest.raises(ValueError, match="Grad-CAM"):  # the message lists the methods there are
        method_named("Grad-Cam")
