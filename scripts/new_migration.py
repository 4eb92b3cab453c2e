"""Create (autogenerate) a migration for one service from its models.

    python scripts/new_migration.py billing "add refunds"

The service must expose `services.<name>.models.metadata`. The migration
folder is created on first use. Autogenerate compares the models with a
throwaway PostgreSQL database, on the server the tests use
(`kinora.testing.temporary_database`), upgraded to the current head.
"""

import importlib
import sys
from pathlib import Path

from alembic import command

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinora.runtime.migrations import alembic_config, upgrade  # noqa: E402
from kinora.testing import temporary_database  # noqa: E402

ENV_PY = '''"""Alembic environment for the {name} service (shared runner)."""

from kinora.runtime.migrations import run_env
from services.{name}.models import metadata

run_env(metadata)
'''

SCRIPT_MAKO = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


def main(name: str, message: str) -> None:
    folder = ROOT / "services" / name / "migrations"
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    if not (folder / "env.py").exists():
        (folder / "env.py").write_text(ENV_PY.format(name=name))
    if not (folder / "script.py.mako").exists():
        (folder / "script.py.mako").write_text(SCRIPT_MAKO)
    importlib.import_module(f"services.{name}.models")
    with temporary_database("migration") as url:
        upgrade(folder, url)
        existing = len(list((folder / "versions").glob("*.py")))
        command.revision(alembic_config(folder, url), message=message, autogenerate=True, rev_id=f"{existing + 1:04d}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
