"""python -m services.cameo [serve|migrate]"""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.cameo.server import MIGRATIONS, build
from services.cameo.settings import CameoSettings

if __name__ == "__main__":
    sys.exit(
        bootstrap.main(
            "cameo", lambda: load_settings(CameoSettings), build, lambda s: upgrade(MIGRATIONS, s.database_url)
        )
    )
