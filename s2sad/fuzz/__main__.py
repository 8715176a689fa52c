"""``python -m s2sad.fuzz``: the differential fuzzer's command line (see ``s2sad.fuzz.cli``)."""

from .cli import main

raise SystemExit(main())
