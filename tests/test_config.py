from dataclasses import dataclass, field

import pytest

from ocr_common.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from ocr_common.trainer import TrainConfig


@dataclass
class ModelSection:
    n_embd: int = 64
    n_head: int = 4


@dataclass
class Schema:
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if self.model.n_embd % self.model.n_head:
            raise ValueError("model.n_embd must be divisible by model.n_head")
        self.train.validate()


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_and_overrides_are_merged_typed(tmp_path):
    path = write(tmp_path, "model:\n  n_embd: 128\ntrain:\n  batch_size: 8\n")
    config = load_config(Schema, path, ["train.epochs=3", "model.n_head=8"])
    assert isinstance(config, Schema)
    assert (config.model.n_embd, config.model.n_head) == (128, 8)
    assert (config.train.batch_size, config.train.epochs) == (8, 3)


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, "model:\n  n_emdb: 128\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'model\.n_emdb'"):
        load_config(Schema, path)


def test_unknown_override_is_an_error(tmp_path):
    path = write(tmp_path, "{}")
    with pytest.raises(ConfigError, match=r"override: unknown key 'train\.epoch'"):
        load_config(Schema, path, ["train.epoch=3"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        load_config(Schema, path, ["train.epochs"])


def test_wrong_type_names_key(tmp_path):
    path = write(tmp_path, "train:\n  batch_size: many\n")
    with pytest.raises(ConfigError, match=r"bad value for 'train\.batch_size'"):
        load_config(Schema, path)


def test_cross_field_check_runs(tmp_path):
    path = write(tmp_path, "model:\n  n_embd: 100\n  n_head: 3\n")
    with pytest.raises(ConfigError, match="divisible"):
        load_config(Schema, path)
    with pytest.raises(ConfigError, match=r"train\.logger"):
        load_config(Schema, write(tmp_path, "train:\n  logger: mlflow\n"))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Schema, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Schema, write(tmp_path, "model: [1, 2\n"))


def test_round_trip_through_dict_and_file(tmp_path):
    config = load_config(Schema, write(tmp_path, "model:\n  n_embd: 256\n"))
    assert config_from_dict(Schema, config_to_dict(config)) == config
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(Schema, tmp_path / "saved.yaml") == config
