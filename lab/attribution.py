"""Every attribution method behind one small interface: a clip's two input tensors and a target in, one attribution
per stream out, each shaped like that stream's input.

    result = attribute(model, rgb, flow, target=3, method="Grad-CAM", inter_stream_attention=True)
    result.rgb            # (3, T, S, S)   spatial-stream attribution
    result.flow           # (2, T-1, S, S) temporal-stream attribution
    result.rgb_map()      # (T, S, S)      per-pixel relevance (absolute, summed over channels)
    result.frame_mass()   # per-frame share of the total relevance, for each stream

The shared model is never touched: each call works on its own copy, so Captum's hooks (Grad-CAM registers some on a
layer) are never visible to another session, and no module flag is toggled; the attention switch is a forward
argument.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from captum.attr import (
    GradientShap,
    IntegratedGradients,
    LayerAttribution,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from model.network import TwoStreamNet

METHODS = ("Grad-CAM", "Saliency", "Integrated Gradients", "GradientShap", "SmoothGrad (NoiseTunnel)", "Occlusion",
           "Temporal occlusion")
FAST_METHODS = ("Saliency", "Grad-CAM", "Occlusion", "Integrated Gradients")


@dataclass(frozen=True)
class Attribution:
    """One method's answer for one clip: an attribution per stream, shaped like that stream's input."""

    method: str
    target: int
    rgb: torch.Tensor  # (3, T, S, S)
    flow: torch.Tensor  # (2, T-1, S, S); zeros for a model without a temporal stream
    extras: dict = field(default_factory=dict)  # e.g. Integrated Gradients' convergence delta

    def rgb_map(self) -> torch.Tensor:
        """(T, S, S) relevance of every pixel of every face crop."""
        return self.rgb.abs().sum(0)

    def flow_map(self) -> torch.Tensor:
        """(T-1, S, S) relevance of every pixel of every flow field."""
        return self.flow.abs().sum(0)

    def frame_mass(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each frame's share of the relevance of both streams together: the temporal importance curves."""
        rgb, flow = self.rgb_map().sum((1, 2)), self.flow_map().sum((1, 2))
        total = (rgb.sum() + flow.sum()).clamp_min(1e-12)
        return rgb / total, flow / total

    def stream_share(self) -> tuple[float, float]:
        """(spatial, temporal) shares of the total relevance."""
        rgb, flow = self.frame_mass()
        return float(rgb.sum()), float(flow.sum())


def _forward(model: TwoStreamNet, inter_stream_attention: bool):
    single_stream = model.spatial is None or model.temporal is None

    def forward(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        logits = model(rgb, flow, inter_stream_attention=inter_stream_attention)
        if single_stream:  # keep the unused input in the graph: its attribution is then zero, not an autograd error
            logits = logits + 0.0 * (rgb.sum() + flow.sum())
        return logits
    return forward


def _grad_cam(model: TwoStreamNet, forward, inputs, target: int) -> tuple[torch.Tensor, ...]:
    """Grad-CAM on each stream's last convolution, upsampled (trilinear) to the stream's input and spread over its
    channels so that it has the input's shape like every other method's result.

    Both streams share one forward and one backward pass (Captum's LayerGradCam takes one layer per pass, which
    doubles the cost); the maps are the same: ReLU(sum over channels of mean gradient x activation).
    """
    streams = [(stream, x) for stream, x in zip((model.spatial, model.temporal), inputs) if stream is not None]
    activations = {}
    handles = [stream.last_conv.register_forward_hook(lambda module, _, out, key=i: activations.__setitem__(key, out))
               for i, (stream, _) in enumerate(streams)]  # on the private copy only
    try:
        logit = forward(*inputs)[0, target]
    finally:
        for handle in handles:
            handle.remove()
    gradients = torch.autograd.grad(logit, [activations[i] for i in range(len(streams))])
    cams = iter([torch.relu((g.mean(dim=(2, 3, 4), keepdim=True) * activations[i]).sum(1, keepdim=True))
                 for i, g in enumerate(gradients)])
    maps = []
    for stream, x in zip((model.spatial, model.temporal), inputs):
        if stream is None:
            maps.append(torch.zeros_like(x))
            continue
        cam = LayerAttribution.interpolate(next(cams), tuple(x.shape[2:]), interpolate_mode="trilinear")
        maps.append(cam.expand_as(x) / x.shape[1])
    return tuple(maps)


def _occlusion_window(shape: tuple[int, ...], whole_frames: bool) -> tuple[int, ...]:
    """A window that tiles (C, T, S, S) exactly: whole frames, or about a quarter of the clip's length and side.

    Occlusion leaves a remainder that its windows do not tile unscored, so sizes are divisors of the input's.
    """
    channels, frames, side, _ = shape
    if whole_frames:
        return channels, 1, side, side

    def divisor_near(n: int, target: float) -> int:
        return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - target))
    patch = divisor_near(side, side / 4)
    return channels, divisor_near(frames, frames / 4), patch, patch


def attribute(model: TwoStreamNet, rgb: torch.Tensor, flow: torch.Tensor, target: int, method: str,
              inter_stream_attention: bool = True, steps: int = 32, samples: int = 8) -> Attribution:
    """Attribute the ``target`` logit of one clip ((3,T,S,S) and (2,T-1,S,S) tensors) to both streams' inputs.

    ``steps`` is the number of Integrated Gradients steps; ``samples`` the number of noisy or baseline samples of
    GradientShap and SmoothGrad.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}: choose one of {', '.join(METHODS)}")
    model = copy.deepcopy(model).eval()  # private copy: hooks and autograd state stay out of the shared model
    forward = _forward(model, inter_stream_attention)
    inputs = (rgb[None].detach().clone().requires_grad_(), flow[None].detach().clone().requires_grad_())
    zeros = tuple(torch.zeros_like(x) for x in inputs)  # normalized zero = mean colour, and no motion
    extras: dict = {}
    if method == "Grad-CAM":
        result = _grad_cam(model, forward, inputs, target)
    elif method == "Saliency":
        result = Saliency(forward).attribute(inputs, target=target, abs=True)
    elif method == "Integrated Gradients":
        result, delta = IntegratedGradients(forward).attribute(
            inputs, baselines=zeros, target=target, n_steps=steps, internal_batch_size=16,
            return_convergence_delta=True)
        extras["convergence_delta"] = float(delta.abs().sum())
    elif method == "GradientShap":
        still = inputs[0].mean(2, keepdim=True).expand_as(inputs[0]).detach()  # the clip's mean frame, held still
        baselines = (torch.cat([zeros[0], still]), torch.cat([zeros[1], zeros[1]]))
        result = GradientShap(forward).attribute(inputs, baselines=baselines, target=target, n_samples=samples,
                                                 stdevs=0.1)
    elif method == "SmoothGrad (NoiseTunnel)":
        result = NoiseTunnel(Saliency(forward)).attribute(inputs, nt_type="smoothgrad", nt_samples=samples,
                                                          nt_samples_batch_size=samples, stdevs=0.15, target=target)
    else:  # "Occlusion" (space-time patches) or "Temporal occlusion" (whole frames)
        windows = tuple(_occlusion_window(x.shape[1:], whole_frames=method == "Temporal occlusion") for x in inputs)
        result = Occlusion(forward).attribute(inputs, sliding_window_shapes=windows, strides=windows,
                                              baselines=(0.0, 0.0), target=target, perturbations_per_eval=32)
    return Attribution(method, int(target), result[0][0].detach(), result[1][0].detach(), extras)
