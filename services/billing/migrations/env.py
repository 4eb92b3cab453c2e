"""Alembic environment for the billing service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.billing.models import metadata

run_env(metadata)
