"""The speed benchmark's reckoning: a pass's FLOPs come from torch's counter, and the machine's limit from its CPU."""
import torch

from model import faceapi_backbone
from model.bench import (
    PREPROCESSING_STAGES,
    machine_peak_flops,
    pass_flops,
    stage_seconds,
    with_nchw_face_network,
    write_test_clip,
)
from model.config import ModelConfig, ProcessConfig
from model.data.processing import process_video
from model.network import TwoStreamNet


def test_a_backward_pass_costs_more_than_a_forward_and_the_limit_is_reckoned_from_the_cpu():
    process = ProcessConfig(frames=8, size=32)
    model = TwoStreamNet(ModelConfig(width=4, attention_dim=8, spatial_backbone="cnn"), process).eval()
    rgb, flow = torch.randn(2, 3, 8, 32, 32), torch.randn(2, 2, 7, 32, 32)
    forward, both = pass_flops(model, rgb, flow, backward=False), pass_flops(model, rgb, flow, backward=True)
    assert 0 < forward < both
    assert pass_flops(model, rgb[:1], flow[:1], backward=False) == forward / 2, "FLOPs scale with the batch"
    peak, reckoning = machine_peak_flops()
    assert peak > 1e9 and "cores" in reckoning


def test_the_benchmarks_nchw_baseline_reads_the_same_and_leaves_the_shipped_network_channels_last():
    network = faceapi_backbone.load()
    baseline = with_nchw_face_network(network)
    faces = torch.rand(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.allclose(network(faces), baseline(faces), atol=1e-5)
    assert network.blocks[0].conv0.weight.is_contiguous(memory_format=torch.channels_last)
    assert not baseline.blocks[0].conv0.weight.is_contiguous(memory_format=torch.channels_last)


def test_every_preprocessing_stage_of_a_real_clip_is_timed_within_the_whole(tmp_path):
    clip = write_test_clip(tmp_path / "clip.mp4", seconds=1.0)
    stages, total = stage_seconds(lambda: process_video(clip, ProcessConfig()))
    assert list(stages) == list(PREPROCESSING_STAGES)
    assert all(seconds > 0 for seconds in stages.values()), stages
    assert sum(stages.values()) <= total
