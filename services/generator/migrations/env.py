"""Alembic environment for the generator service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.generator.models import metadata

run_env(metadata)
