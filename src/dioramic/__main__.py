"""`python -m dioramic` is the `dioramic` command."""

import sys

from dioramic.cli import main

sys.exit(main())
