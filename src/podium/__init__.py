"""Podium: a workflow orchestrator for data and ML pipelines."""

from __future__ import annotations

__version__ = "0.1.0"
