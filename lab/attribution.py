"""Every attribution method behind one small interface: a clip's two input tensors and a target in, one attribution
per stream out, each shaped like that stream's input.

    result = attribute(model, rgb, flow, target=3, method="Grad-CAM", attention="on")
    result.rgb            # (3, T, S, S)   spatial-stream attribution
    result.flow           # (2, T-1, S, S) temporal-stream attribution
    result.rgb_map()      # (T, S, S)      per-pixel relevance (absolute, summed over channels)
    result.frame_mass()   # per-frame share of the total relevance, for each stream

``METHODS`` is the one registry: each method is a ``Method`` with its display name, defaults and the flags the page,
the Gradio demo and grading read (``offered()``, ``fast()``, ``baseline()``, ``method_named()``), so adding a method
touches this module only.

The shared model is never touched: each call works on its own copy, so Captum's hooks (Grad-CAM registers some on a
layer) are never visible to another session, and no module flag is toggled; the attention switch is a forward
argument.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import torch
from captum.attr import (
    GradientShap,
    IntegratedGradients,
    LayerAttribution,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from model.config import INFERENCE_BATCH, AttentionMode
from model.network import TwoStreamNet


@dataclass(frozen=True)
class Attribution:
    """One method's answer for one clip: an attribution per stream, shaped like that stream's input."""

    method: str
    target: int
    rgb: torch.Tensor  # (3, T, S, S)
    flow: torch.Tensor  # (2, T-1, S, S); zeros for a model without a temporal stream

    def maps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Both streams' per-pixel relevance: what grading scores."""
        return self.rgb_map(), self.flow_map()

    def rgb_map(self) -> torch.Tensor:
        """(T, S, S) relevance of every pixel of every face crop."""
        return self.rgb.abs().sum(0)

    def flow_map(self) -> torch.Tensor:
        """(T-1, S, S) relevance of every pixel of every flow field."""
        return self.flow.abs().sum(0)

    def signed_maps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Both streams' relevance with its sign, summed over channels (Captum's convention): (T, S, S), (T-1, S, S).
        Positive pixels push towards the target class, negative ones away from it."""
        return self.rgb.sum(0), self.flow.sum(0)

    def frame_mass(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each frame's share of the relevance of both streams together: the temporal importance curves."""
        rgb, flow = self.rgb_map().sum((1, 2)), self.flow_map().sum((1, 2))
        total = (rgb.sum() + flow.sum()).clamp_min(1e-12)
        return rgb / total, flow / total

    def stream_share(self) -> tuple[float, float]:
        """(spatial, temporal) shares of the total relevance."""
        rgb, flow = self.frame_mass()
        return float(rgb.sum()), float(flow.sum())


@dataclass(frozen=True)
class MethodInputs:
    """What every method computes from: the private copy of the model, its forward on (rgb, flow), the clip as a batch
    of one that requires gradients, the target, and the options with the method's defaults filled in."""

    model: TwoStreamNet
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    inputs: tuple[torch.Tensor, torch.Tensor]  # (1, 3, T, S, S), (1, 2, T-1, S, S)
    target: int
    steps: int | None
    samples: int | None
    generator: torch.Generator | None  # the random baseline's draws

    @property
    def zeros(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The baseline input: normalized zero = mean colour, and no motion."""
        return torch.zeros_like(self.inputs[0]), torch.zeros_like(self.inputs[1])

    def streams(self) -> Iterator[tuple[torch.nn.Module | None, torch.Tensor]]:
        """(stream module or None, its input) for the spatial and the temporal stream."""
        return zip((self.model.spatial, self.model.temporal), self.inputs)


@dataclass(frozen=True)
class Method:
    """One attribution method: its display name (also the method column of saved grading tables), its defaults, the
    flags the page and grading read, and ``attribute``, which returns the (1, C, ...) attribution of both inputs."""

    name: str
    attribute: Callable[[MethodInputs], tuple[torch.Tensor, ...]]
    fast: bool = False  # offered by default in grading and load tests
    completeness_checked: bool = False  # grading checks that its attributions add up to f(input) - f(zero input)
    baseline: bool = False  # the chance level grading compares every method with; never offered as an explanation
    steps: int | None = None  # default path steps, for a method that integrates along one
    samples: int | None = None  # default noisy or baseline samples, for a method that averages over them

    @property
    def has_steps(self) -> bool:
        """Whether the page offers a steps slider."""
        return self.steps is not None


def _forward(model: TwoStreamNet, attention: AttentionMode | None):
    single_stream = model.spatial is None or model.temporal is None

    def forward(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        logits = model(rgb, flow, attention=attention)
        if single_stream:  # keep the unused input in the graph: its attribution is then zero, not an autograd error
            logits = logits + 0.0 * (rgb.sum() + flow.sum())
        return logits
    return forward


def _grad_cam(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    """Grad-CAM on each stream's last convolution, upsampled (trilinear) to the stream's input and spread over its
    channels so that it has the input's shape like every other method's result.

    Both streams share one forward and one backward pass (Captum's LayerGradCam takes one layer per pass, which
    doubles the cost); the maps are the same: ReLU(sum over channels of mean gradient x activation).
    """
    streams = [stream for stream, _ in job.streams() if stream is not None]
    activations = {}
    handles = [stream.last_conv.register_forward_hook(lambda module, _, out, key=i: activations.__setitem__(key, out))
               for i, stream in enumerate(streams)]  # on the private copy only
    try:
        logit = job.forward(*job.inputs)[0, job.target]
    finally:
        for handle in handles:
            handle.remove()
    gradients = torch.autograd.grad(logit, [activations[i] for i in range(len(streams))])
    cams = iter([torch.relu((g.mean(dim=(2, 3, 4), keepdim=True) * activations[i]).sum(1, keepdim=True))
                 for i, g in enumerate(gradients)])
    maps = []
    for stream, x in job.streams():
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


def _saliency(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    return Saliency(job.forward).attribute(job.inputs, target=job.target, abs=True)


def _integrated_gradients(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    return IntegratedGradients(job.forward).attribute(job.inputs, baselines=job.zeros, target=job.target,
                                                      n_steps=job.steps, internal_batch_size=INFERENCE_BATCH)


def _gradient_shap(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    """Baselines: the zero input, and the clip's mean frame held still (no motion)."""
    rgb, _ = job.inputs
    zero_rgb, zero_flow = job.zeros
    still = rgb.mean(2, keepdim=True).expand_as(rgb).detach()
    baselines = (torch.cat([zero_rgb, still]), torch.cat([zero_flow, zero_flow]))
    return GradientShap(job.forward).attribute(job.inputs, baselines=baselines, target=job.target,
                                               n_samples=job.samples, stdevs=0.1)


def _smoothgrad(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    return NoiseTunnel(Saliency(job.forward)).attribute(job.inputs, nt_type="smoothgrad", nt_samples=job.samples,
                                                        nt_samples_batch_size=INFERENCE_BATCH, stdevs=0.15,
                                                        target=job.target)


def _occlusion(job: MethodInputs, whole_frames: bool) -> tuple[torch.Tensor, ...]:
    """Space-time patches, or whole frames, set to the zero input."""
    windows = tuple(_occlusion_window(x.shape[1:], whole_frames) for x in job.inputs)
    return Occlusion(job.forward).attribute(job.inputs, sliding_window_shapes=windows, strides=windows,
                                            baselines=(0.0, 0.0), target=job.target,
                                            perturbations_per_eval=INFERENCE_BATCH)


def _uniform_random(job: MethodInputs) -> tuple[torch.Tensor, ...]:
    """Uniform random relevance for every pixel. It is drawn into the first channel only, so that the relevance map
    (the sum over channels) is exactly the uniform draw."""
    result = []
    for x in job.inputs:
        relevance = torch.zeros_like(x)
        relevance[0, 0] = torch.rand(x.shape[2:], generator=job.generator)
        result.append(relevance)
    return tuple(result)


METHODS: dict[str, Method] = {method.name: method for method in (  # in the order the page lists them
    Method("Grad-CAM", _grad_cam, fast=True),
    Method("Saliency", _saliency, fast=True),
    Method("Integrated Gradients", _integrated_gradients, fast=True, completeness_checked=True, steps=32),
    Method("GradientShap", _gradient_shap, samples=8),
    Method("SmoothGrad (NoiseTunnel)", _smoothgrad, samples=8),
    Method("Occlusion", partial(_occlusion, whole_frames=False), fast=True),
    Method("Temporal occlusion", partial(_occlusion, whole_frames=True)),
    Method("Random", _uniform_random, baseline=True),
)}


def method_named(name: str) -> Method:
    """The method registered under a display name; a ValueError that lists the names for any other."""
    if name not in METHODS:
        raise ValueError(f"unknown attribution method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name]


def offered() -> tuple[str, ...]:
    """Names of the methods an explanation can be asked for (all but the random baseline)."""
    return tuple(name for name, method in METHODS.items() if not method.baseline)


def fast() -> tuple[str, ...]:
    """Names of the methods graded and load-tested by default."""
    return tuple(name for name, method in METHODS.items() if method.fast)


def baseline() -> Method:
    """The chance level: uniform random maps."""
    return next(method for method in METHODS.values() if method.baseline)


def attribute(model: TwoStreamNet, rgb: torch.Tensor, flow: torch.Tensor, target: int, method: str,
              attention: AttentionMode | None = None, steps: int | None = None, samples: int | None = None,
              generator: torch.Generator | None = None) -> Attribution:
    """Attribute the ``target`` logit of one clip ((3,T,S,S) and (2,T-1,S,S) tensors) to both streams' inputs.

    ``steps`` (integration steps) and ``samples`` (noisy or baseline samples) default to the method's own;
    ``generator`` seeds the random baseline.
    """
    chosen = method_named(method)
    model = copy.deepcopy(model).eval()  # private copy: hooks and autograd state stay out of the shared model
    inputs = (rgb[None].detach().clone().requires_grad_(), flow[None].detach().clone().requires_grad_())
    job = MethodInputs(model, _forward(model, attention), inputs, int(target),
                       chosen.steps if steps is None else steps, chosen.samples if samples is None else samples,
                       generator)
    # a stream the model lacks has no relevance, whatever float noise a batched method (Occlusion) measures there
    rgb_result, flow_result = (torch.zeros_like(x[0]) if stream is None else result[0].detach()
                               for (stream, x), result in zip(job.streams(), chosen.attribute(job)))
    return Attribution(method, job.target, rgb_result, flow_result)
