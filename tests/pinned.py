"""Golden files: generated text pinned in ``tests/golden/``.

``pinned(name, text)`` fails if ``text`` differs from ``tests/golden/<name>``; with
``S2SAD_UPDATE_GOLDEN=1`` it writes it instead (review the diff like any code change).
"""

import os
import pathlib

GOLDEN = pathlib.Path(__file__).parent / "golden"


def pinned(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("S2SAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with S2SAD_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"generated text for {name} changed; see {path}"
