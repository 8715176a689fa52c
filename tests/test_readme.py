"""The README's example prints exactly the generated code the README shows."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_example_output_is_current(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example, shown = blocks[0], blocks[1]
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""})
    printed_source = result.stdout.split("\n\n(")[0].strip()
    assert printed_source == shown.strip()
    assert "(0.21325268154726096, -0.6233770377206788)" in result.stdout
