"""``python -m cockpit``: the same entry as the console script."""

import sys

from cockpit.entry import main

sys.exit(main())
