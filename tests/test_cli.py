"""The command line: `s2sad show FILE.py:FUNC` prints Python that compiles."""

import pathlib
import subprocess
import sys

import pytest

from s2sad.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "quickstart.py")


def test_show_prints_compilable_python(capsys):
    assert main(["show", f"{EXAMPLE}:f", "--argnums", "0,1"]) == 0
    out = capsys.readouterr().out
    compile(out, "shown", "exec")
    assert "def f_vjp(x, y):" in out and "def f_pullback(z_bar):" in out
    assert "return x_bar, y_bar" in out


def test_show_adjoint_stage(capsys):
    main(["show", f"{EXAMPLE}:damped", "--stage", "adjoint"])
    assert "func damped_pullback" in capsys.readouterr().out


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "s2sad", "show", f"{EXAMPLE}:damped", "--argnums", "1"],
                            capture_output=True, text=True, check=True)
    compile(result.stdout, "shown", "exec")
    assert "return (k_bar,)" in result.stdout


@pytest.mark.parametrize("target, message", [
    ("nofile.py:f", "no such file"),
    (f"{EXAMPLE}:missing", "has no"),
    (EXAMPLE, "expected FILE.py:FUNC"),
])
def test_bad_targets(target, message):
    with pytest.raises(SystemExit, match=message):
        main(["show", target])


def test_show_all_prints_the_callees_once(capsys):
    corpus = str(ROOT / "tests" / "fn_corpus.py")
    main(["show", f"{corpus}:uses_helpers", "--argnums", "0,1", "--all"])
    out = capsys.readouterr().out
    compile(out, "shown", "exec")
    for name in ("uses_helpers_vjp", "sq_vjp", "mix_vjp", "poly_vjp"):
        assert out.count(f"def {name}(") == 1, name


def test_show_grad_stage(capsys):
    main(["show", f"{EXAMPLE}:f", "--argnums", "0,1", "--stage", "grad"])
    out = capsys.readouterr().out
    assert "def f_grad(x, y):" in out and "z_bar = scalar_seed(z)" in out


def test_show_grad_stage_in_forward_mode_is_refused():
    with pytest.raises(SystemExit, match="stage 'grad' .* reverse mode only"):
        main(["show", f"{EXAMPLE}:damped", "--mode", "forward", "--stage", "grad"])


def test_show_forward_mode(capsys):
    main(["show", f"{EXAMPLE}:damped", "--argnums", "0,1", "--mode", "forward"])
    out = capsys.readouterr().out
    compile(out, "shown", "exec")
    assert "def damped_jvp(x, k, *, x_dot, k_dot):" in out
