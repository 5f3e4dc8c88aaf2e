"""The ``mucalo`` command line: one module per verb, wired together in :mod:`mucalo.cli.main`."""

from __future__ import annotations
