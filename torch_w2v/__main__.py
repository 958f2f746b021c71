"""``python -m torch_w2v``: the ``torch-w2v`` command (see :mod:`torch_w2v.cli`)."""
import sys

from .cli import main

sys.exit(main())
