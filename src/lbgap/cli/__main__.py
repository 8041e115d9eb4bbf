"""``python -m lbgap.cli``: the same as the ``lbgap`` command."""
import sys

from lbgap.cli import main

sys.exit(main())
