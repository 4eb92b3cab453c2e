"""Alembic environment for the identity service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.identity.models import metadata

run_env(metadata)
