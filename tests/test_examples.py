"""Every example runs with --quick and writes its PNGs (when matplotlib and scikit-learn are installed)."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = {
    "digits_mlp.py": ["digits_training.png", "digits_optimizers.png"],
    "finite_differences.py": ["finite_differences.png"],
    "rosenbrock.py": ["rosenbrock.png"],
    "ode_fit.py": ["ode_fit.png"],
    "gaussian_process.py": ["gaussian_process.png"],
    "checkpoint_memory.py": ["checkpoint_memory.png"],
    "mixed_precision.py": ["mixed_precision.png"],
}


def test_every_example_is_listed():
    scripts = {p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")}
    text_only = {"quickstart.py", "derivative_graph.py"}  # they print; their output is tested elsewhere
    assert scripts == set(EXAMPLES) | text_only
    readme = (ROOT / "examples" / "README.md").read_text()
    assert all(name in readme for name in scripts)


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_quick_and_writes_its_pngs(script, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path)],
                            check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PYTHONPATH": str(ROOT), "PATH": "", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
                                 "MPLCONFIGDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    for png in EXAMPLES[script]:
        data = (tmp_path / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
