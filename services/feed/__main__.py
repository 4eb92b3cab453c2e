"""python -m services.feed [serve|migrate]"""

import os
import sys

# One BLAS thread (before numpy loads): the feed's matrix products are small and
# run on many request threads at once; OpenBLAS's own threads would spin
# between them (measured: half the server's CPU per GetFeed, docs/feed.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from kinora.runtime.bootstrap import main
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import load_settings
from services.feed.server import MIGRATIONS, build
from services.feed.settings import FeedSettings

if __name__ == "__main__":
    sys.exit(main("feed", lambda: load_settings(FeedSettings), build, lambda s: upgrade(MIGRATIONS, s.database_url)))
