"""``python -m albums_cli``: the same as the ``albums`` console script."""

import sys

from albums_cli.main import main

sys.exit(main())
