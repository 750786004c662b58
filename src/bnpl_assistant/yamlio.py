"""YAML reading for every data file: libyaml's safe loader when PyYAML was built with it (about ten times
faster than the pure-Python one; the knowledge base is parsed at every start), the pure-Python one otherwise.
Both accept the same documents and build the same plain values."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def read_yaml(text: str) -> Any:
    """The plain value (dict, list, str, number, None) of one YAML document; raises :class:`YAMLError`."""
    return yaml.load(text, Loader=_LOADER)
