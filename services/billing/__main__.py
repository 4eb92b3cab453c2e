"""`python -m services.billing [serve|migrate]`."""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.billing.server import MIGRATIONS, build
from services.billing.settings import BillingSettings

if __name__ == "__main__":
    sys.exit(
        bootstrap.main(
            "billing", lambda: load_settings(BillingSettings), build, lambda s: upgrade(MIGRATIONS, s.database_url)
        )
    )
