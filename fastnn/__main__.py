"""``python -m fastnn`` runs the command line."""

import sys

from fastnn.cli import main

sys.exit(main())
