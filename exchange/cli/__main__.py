"""``python -m exchange.cli …`` is ``sigx …``."""

import sys

from exchange.cli.main import main

sys.exit(main())
