"""``python -m s2sad`` is the ``s2sad`` command."""

from .cli import main

raise SystemExit(main())
