"""The `release` fixture: each test that takes it runs once per values variant (default, gpu-cloud, dev);
each variant is rendered once for all the chart test modules."""

from __future__ import annotations

import pytest
from chart_release import VARIANTS, Release


@pytest.fixture(scope="session", params=list(VARIANTS))
def release(request) -> Release:
    return Release(request.param)
