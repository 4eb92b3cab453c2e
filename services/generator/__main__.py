"""`python -m services.generator [serve|migrate]` — the API server.
Workers run separately: `python -m services.generator.worker`."""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.generator.server import MIGRATIONS, build
from services.generator.settings import GeneratorSettings, load_generator_settings


def load():
    # Migrating needs only the database; serving needs the billing service too.
    return load_settings(GeneratorSettings) if sys.argv[1:2] == ["migrate"] else load_generator_settings()


if __name__ == "__main__":
    sys.exit(bootstrap.main("generator", load, build, lambda s: upgrade(MIGRATIONS, s.database_url)))
