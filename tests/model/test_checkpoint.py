import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.network import TwoStreamNet

PROCESS = ProcessConfig(frames=8, size=32)


def small_model(**kw):
    torch.manual_seed(0)
    return TwoStreamNet(ModelConfig(width=4, attention_dim=8, **kw), PROCESS).eval()


def test_round_trip_gives_identical_outputs(tmp_path):
    model = small_model()
    process = ProcessConfig(frames=8, size=32, flow="dis")
    save_checkpoint(tmp_path / "ck", model, process, metrics={"test": {"war": 0.5}})
    loaded, loaded_process, config = load_checkpoint(tmp_path / "ck")
    assert loaded_process == process
    assert config["metrics"]["test"]["war"] == 0.5
    rgb, flow = torch.randn(1, 3, 8, 32, 32), torch.randn(1, 2, 7, 32, 32)
    assert torch.equal(loaded(rgb, flow), model(rgb, flow))
    assert not list(tmp_path.glob("ck/*.tmp")) and not list(tmp_path.glob("ck/.*"))


def refused_after_editing(folder, section, key, value, message):
    """Change one value of a saved checkpoint's config and check that loading refuses it with ``message``."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config[section][key] = value
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    refused_after_editing(folder, "model", "width", 8, "do not match")


def test_processing_saved_before_flow_oversampling_loads_as_flow_measured_at_s(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    assert load_checkpoint(folder)[1].flow_oversample == ProcessConfig.flow_oversample == 2
    config = json.loads((folder / "config.json").read_text())
    del config["process"]["flow_oversample"]
    (folder / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(folder)[1].flow_oversample == 1
    refused_after_editing(folder, "process", "flow_oversample", 100, "schema at process/flow_oversample")


def test_model_saved_before_stream_heads_loads_without_them(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(stream_heads=False), PROCESS)
    config = json.loads((folder / "config.json").read_text())
    del config["model"]["stream_heads"]
    (folder / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(folder)[0].stream_heads is None
    assert load_checkpoint(save_checkpoint(tmp_path / "new", small_model(), PROCESS))[0] \
        .stream_heads is not None


def test_config_against_schema(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    refused_after_editing(folder, "model", "streams", "three", "schema at model/streams")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)


@pytest.mark.parametrize("section, key, value, message", [
    ("model", "attention_heads", 3, "attention_heads \\(3\\) does not divide model/attention_dim \\(8\\)"),
    ("model", "width", 4.0, "model/width is 4.0, not a whole number"),
    ("process", "frames", 8.0, "process/frames is 8.0, not a whole number"),
    ("model", "attention_dim", 10 ** 9, "schema at model/attention_dim"),
    ("model", "colour", "blue", "schema at model: Additional properties"),
    ("process", "pixels", 3, "schema at process: Additional properties"),
])
def test_tampered_settings_are_refused_in_one_line_before_any_tensor_is_built(tmp_path, section, key, value, message):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    refused_after_editing(folder, section, key, value, message)


def test_a_checkpoint_of_other_classes_or_extra_keys_is_refused(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "classes": config["classes"][::-1]}))
    with pytest.raises(CheckpointError, match="are not this lab's"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({**config, "extra": 1}))
    with pytest.raises(CheckpointError, match="Additional properties"):
        load_checkpoint(folder)


def test_a_truncated_reliability_calibration_is_refused_in_one_line(tmp_path):
    from model.reliability import CALIBRATION_FILE, Calibration, CalibrationError, fit

    rng = torch.Generator().manual_seed(0)
    features, labels = torch.randn(60, 8, generator=rng), torch.arange(60) % 3
    (tmp_path / CALIBRATION_FILE).write_bytes(fit(features, labels, {"val": features}).to_bytes()[:200])
    with pytest.raises(CalibrationError, match="is damaged .* python -m cli.calibrate"):
        Calibration.read(tmp_path)


def test_missing_or_foreign_weights_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    weights = tmp_path / "ck" / "model.safetensors"
    state = load_file(str(weights))
    state.pop(next(iter(state)))
    save_file(state, str(weights))
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "ck")
    weights.write_bytes(b"\x80\x04pickle? no")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(tmp_path / "ck")


def test_processing_that_does_not_fit_the_network_is_refused(tmp_path):
    folder = save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    refused_after_editing(folder, "process", "frames", 16, "do not match")  # twice the attention's token times
    refused_after_editing(folder, "process", "frames", "8", "schema at process/frames")


def test_model_saved_with_its_own_frames_and_size_loads_from_the_processing_settings(tmp_path):
    model = small_model()
    folder = save_checkpoint(tmp_path / "ck", model, PROCESS)
    config = json.loads((folder / "config.json").read_text())
    assert not {"frames", "size"} & set(config["model"])  # the processing settings are their only home
    config["model"].update(frames=8, size=32)  # as checkpoints saved before kept them
    (folder / "config.json").write_text(json.dumps(config))
    loaded = load_checkpoint(folder)[0]
    assert loaded.spatial_grid == model.spatial_grid and loaded.temporal_grid == model.temporal_grid
    rgb, flow = torch.randn(1, 3, 8, 32, 32), torch.randn(1, 2, 7, 32, 32)
    assert torch.equal(loaded(rgb, flow), model(rgb, flow))


class _Payload:
    """Unpickling this runs code (it creates the marker file): what a hostile .pt or .pkl would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_in_place_of_the_weights_is_refused_without_running_it(tmp_path):
    import pickle

    save_checkpoint(tmp_path / "ck", small_model(), PROCESS)
    marker = tmp_path / "pwned"
    (tmp_path / "ck" / "model.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "ck")
    assert not marker.exists()


def test_the_input_scaling_is_saved_with_the_processing_settings(tmp_path):
    scaled = ProcessConfig(frames=8, size=32, rgb_mean=(0.5, 0.5, 0.5), rgb_std=(0.2, 0.3, 0.4), flow_scale=1.5,
                           flow_clip=3.0, displacement_scale=2.0)
    save_checkpoint(tmp_path / "ck", small_model(), scaled)
    _, loaded, config = load_checkpoint(tmp_path / "ck")
    assert loaded == scaled and hash(loaded) == hash(scaled) and config["process"]["rgb_std"] == [0.2, 0.3, 0.4]

    for name in ("rgb_mean", "rgb_std", "flow_scale", "flow_clip", "displacement_scale"):  # as saved before them
        del config["process"][name]
    (tmp_path / "ck" / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(tmp_path / "ck")[1] == PROCESS
