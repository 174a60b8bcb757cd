"""The README's two set-up commands and .ci/run stay the same command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_shows_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    train, test = commands
    assert "pip install ." in train and "npg train" in train
    assert 'pip install ".[test]"' in test and test.rstrip().endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1].strip() in [line.strip() for line in ci_lines]
