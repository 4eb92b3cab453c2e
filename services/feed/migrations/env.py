"""Alembic environment for the feed service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.feed.models import metadata

run_env(metadata)
