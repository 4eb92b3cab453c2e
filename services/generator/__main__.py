"""`python -m services.generator [serve|migrate]` — the API server.
Workers run separately: `python -m services.generator.worker`."""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.generator.server import MIGRATIONS, build
from services.generator.settings import GeneratorSettings

if __name__ == "__main__":
    sys.exit(bootstrap.main("generator", lambda: load_settings(GeneratorSettings), build,
                            lambda s: upgrade(MIGRATIONS, s.database_url)))
