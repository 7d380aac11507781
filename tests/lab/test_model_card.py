from lab.model_card import architecture_dot
from model.config import ModelConfig, ProcessConfig


def test_diagram_draws_only_the_parts_the_checkpoint_has():
    full = architecture_dot(ModelConfig())
    assert "Inter-stream attention" in full and "Per-stream classifiers" in full
    assert "4×4 face grid" in full  # shapes follow the config: 64x64 crops end as a 4x4 grid
    bare = architecture_dot(ModelConfig(inter_stream_attention=False, stream_heads=False))
    assert "Inter-stream attention" not in bare and "Per-stream classifiers" not in bare
    assert "spatial -> pool_s" in bare
    assert "Per-stream classifiers" not in architecture_dot(ModelConfig(streams="temporal"))
    assert "5 landmarks" in full and "5 landmarks" not in architecture_dot(ModelConfig(), ProcessConfig(align=False))
