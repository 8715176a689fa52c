"""Golden tests: the generated source of representative functions, pinned.

Regenerate after an intended change with ``S2SAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``
and review the diff like any code change.
"""

import contextlib
import io
import pathlib

import cf_corpus
import corpus
import fn_corpus
import numpy as np
import pytest
from pinned import pinned

import s2sad
from s2sad.cli import main

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
    pinned(f"{name}.py" if stage == "vjp" else f"{name}.grad.py", text)
    compile(text, name, "exec")


def _shown(target: str, *options: str) -> str:
    """What ``s2sad show`` prints."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main(["show", target, *options])
    return out.getvalue()


_rng = np.random.default_rng(0)
TWO_LAYER_ARGS = tuple(_rng.standard_normal(shape) for shape in [(3, 4), (4,), (4, 2), (5, 3)])
DENSE_ARGS = tuple(_rng.standard_normal(shape) for shape in [(8, 3), (3, 4), (4,)])
CF_CORPUS = pathlib.Path(cf_corpus.__file__).resolve()
EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "quickstart.py"

# What the README promises beyond the vjp and the fused gradient: forward mode's jvp, a gradient
# specialised to its arguments' shapes (``source(..., args=...)``), the fused function ``value_and_grad``
# runs, and the SSA IR ``s2sad show --stage ssa`` prints (regions included).
STAGES = {
    "while_loop.jvp.py": lambda: s2sad.source(cf_corpus.while_loop, mode="forward"),
    "rnn.jvp.py": lambda: s2sad.source(cf_corpus.rnn, argnums=(0, 1), mode="forward"),
    "two_layer.shapes.grad.py": lambda: s2sad.source(corpus.two_layer, argnums=(0, 1, 2), stage="grad",
                                                     args=TWO_LAYER_ARGS),
    "dense.shapes.grad.py": lambda: s2sad.source(corpus.dense, argnums=(0, 1, 2), stage="grad", args=DENSE_ARGS),
    "logistic.value_and_grad.py": lambda: s2sad.source(corpus.logistic, stage="value_and_grad"),
    "rnn.value_and_grad.py": lambda: s2sad.source(cf_corpus.rnn, argnums=(0, 1), stage="value_and_grad"),
    "for_with_break.ssa": lambda: _shown(f"{CF_CORPUS}:newton_sqrt", "--stage", "ssa"),
    "damped.ssa": lambda: _shown(f"{EXAMPLE}:damped", "--stage", "ssa"),
}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_is_pinned(name):
    text = STAGES[name]()
    pinned(name, text)
    if name.endswith(".py"):
        compile(text, name, "exec")
