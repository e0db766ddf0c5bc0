"""Typed configs: a dataclass schema, a YAML file and `key=value` overrides merged on top.

A typo in a key is an error that names the key and the file, not a silently ignored setting.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError

T = TypeVar("T")


class ConfigError(UserError):
    """An unknown key, a value of the wrong type or a failed cross-field check."""


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None) or "?"
    if isinstance(error, (ConfigKeyError, ConfigAttributeError)):
        return f"unknown key '{key}'"
    if isinstance(error, MissingMandatoryValue):
        return f"missing value for '{key}'"
    if isinstance(error, ValidationError):
        first_line = str(getattr(error, "msg", error)).splitlines()[0]
        return f"bad value for '{key}': {first_line}"
    return str(error).splitlines()[0]


def load_config(
    schema: type[T], path: str | os.PathLike | None, overrides: Sequence[str] = ()
) -> T:
    """Load `path` into the dataclass `schema`, apply dotlist `overrides`, run `validate()`.

    `path` None starts from the schema's defaults (a command given an export, not a config)."""
    from_file = _read_yaml(Path(path)) if path is not None else OmegaConf.create()
    path = path if path is not None else "defaults"
    merged = OmegaConf.structured(schema)
    layers = ((str(path), lambda: from_file), ("override", lambda: _dotlist(overrides)))
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer())
        except OmegaConfBaseException as error:
            raise ConfigError(f"{source}: {_describe(error)}") from None
    try:
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{path}: {_describe(error)}") from None
    validate = getattr(config, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    return config


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        loaded = OmegaConf.load(path)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (data:, …)")
    return loaded


def _dotlist(overrides: Sequence[str]) -> Any:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value")
    return OmegaConf.from_dotlist(list(overrides))


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain, YAML/JSON-serialisable dict of a config dataclass."""
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)


def config_from_dict(schema: type[T], values: dict[str, Any]) -> T:
    """Rebuild a config dataclass from `config_to_dict` output (e.g. stored in a checkpoint)."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"stored config: {_describe(error)}") from None


def save_config(config: Any, path: str | os.PathLike) -> None:
    text = yaml.safe_dump(config_to_dict(config), allow_unicode=True, sort_keys=False)
    write_text_atomic(path, text)


def training_arguments(description: str, example_config: str) -> argparse.ArgumentParser:
    """The command line every training script shares: CONFIG [key=value …] [--resume-from CKPT]
    [--run-dir D]. Parse it with `parse_intermixed_args` (overrides may follow options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("config", help=f"YAML config, e.g. {example_config}")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.max_steps=50")
    parser.add_argument("--resume-from", help="checkpoint to continue exactly (e.g. last.ckpt)")
    parser.add_argument("--run-dir", help="checkpoints and logs (default: runs/<config name>)")
    return parser


def run_dir_of(args: argparse.Namespace) -> Path:
    """--run-dir, or runs/<config name>."""
    return Path(args.run_dir or Path("runs") / Path(args.config).stem)
