"""Alembic environment for the cameo service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.cameo.models import metadata

run_env(metadata)
