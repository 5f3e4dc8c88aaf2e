"""JSON output of evaluation results: NaN and infinities become null, numpy scalars plain numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_ready", "write_metrics_json"]


def json_ready(value: Any) -> Any:
    """Recursively convert to strict-JSON types (dict, list, str, int, float, bool, None)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_metrics_json(path: Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as indented strict JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_ready(metrics), indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)
    return path
