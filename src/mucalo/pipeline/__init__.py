"""The end-to-end job (``mucalo run``): every stage in order, resumable."""

from __future__ import annotations

from mucalo.pipeline.config import EvaluateStage, FeaturesStage, ModelEntry, PipelineConfig
from mucalo.pipeline.run import run_pipeline

__all__ = ("EvaluateStage", "FeaturesStage", "ModelEntry", "PipelineConfig", "run_pipeline")
