"""python -m services.feed [serve|migrate]"""

import sys

from kinora.runtime.bootstrap import main
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.feed.server import MIGRATIONS, build
from services.feed.settings import FeedSettings

if __name__ == "__main__":
    sys.exit(main("feed", lambda: load_settings(FeedSettings), build,
                  lambda s: upgrade(MIGRATIONS, s.database_url)))
