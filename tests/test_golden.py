"""Golden tests: the generated source of representative functions, pinned.

Regenerate after an intended change with ``S2SAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``
and review the diff like any code change.
"""

import os
import pathlib

import cf_corpus
import corpus
import fn_corpus
import pytest

import s2sad

GOLDEN = pathlib.Path(__file__).parent / "golden"

CASES = {
    "poly": (corpus.poly, (0, 1)),
    "trig": (corpus.trig, 0),
    "logistic": (corpus.logistic, 0),
    "two_layer": (corpus.two_layer, (0, 1, 2)),
    "augmented": (corpus.augmented, (0, 1)),
    "containers": (corpus.containers, (0, 1)),
    "if_elif_else": (cf_corpus.piecewise, 0),
    "for_with_break": (cf_corpus.newton_sqrt, 0),
    "while_loop": (cf_corpus.while_loop, 0),
    "rnn": (cf_corpus.rnn, (0, 1)),
    "calls_helpers": (fn_corpus.uses_helpers, (0, 1)),
    "lambda_argument": (fn_corpus.area_closure, 0),
    "higher_order_helper": (fn_corpus.integrate, (0, 1, 2)),
    "nested_def": (fn_corpus.nested_capture, 0),
}


# the fused gradient `grad` runs (forward pass and pullback in one function, simplified by s2sad.fuse)
GRAD_CASES = ["poly", "logistic", "two_layer", "augmented", "for_with_break", "rnn"]


@pytest.mark.parametrize("name,stage", [(n, "vjp") for n in sorted(CASES)] + [(n, "grad") for n in GRAD_CASES])
def test_generated_source_is_pinned(name, stage):
    fn, argnums = CASES[name]
    text = s2sad.source(fn, argnums=argnums, stage="python" if stage == "vjp" else "grad")
    path = GOLDEN / (f"{name}.py" if stage == "vjp" else f"{name}.grad.py")
    if os.environ.get("S2SAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated code for {name} changed; see {path}"
    compile(text, str(path), "exec")
