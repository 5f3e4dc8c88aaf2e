"""File formats shared by the stages: muon shards and atomic writes."""

from __future__ import annotations
