"""The READMEs' fenced examples, run as written: python/README.md and examples/python-worker.
(The PyTorch example's README command runs in test_pytorch_ddp.py.)"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON_DIR, REPO

FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def fenced(readme: Path) -> list[tuple[str, str]]:
    return FENCE.findall(readme.read_text())


def test_python_readme_python_examples_print_what_the_readme_shows(start_coordinator, python: str,
                                                                   child_env: dict, tmp_path: Path) -> None:
    blocks = fenced(PYTHON_DIR / "README.md")
    examples = [(i, code) for i, (lang, code) in enumerate(blocks) if lang == "python"]
    assert examples
    for i, code in examples:
        coordinator = start_coordinator()  # a fresh cluster per example, default settings
        run = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={**child_env, "STRATA_COORDINATOR": coordinator.grpc})
        assert run.returncode == 0, f"example {i} failed:\n{run.stdout}\n{run.stderr}"
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if following is not None and following[0] == "text":
            assert run.stdout == following[1], f"example {i} printed:\n{run.stdout}"
    for leftover in Path("/tmp").glob("py-worker-0-step-*.ckpt"):
        leftover.unlink()


def test_python_readme_shell_commands(python: str) -> None:
    scripts = json.loads((PYTHON_DIR / "package.json").read_text())["scripts"]
    for lang, code in fenced(PYTHON_DIR / "README.md"):
        if lang != "bash":
            continue
        if code.startswith("pnpm --filter @strata/python-client "):
            # Running the suite or rewriting the stubs from inside the suite would recurse or touch
            # tracked files: check that the command exists instead.
            for line in code.strip().splitlines():
                assert shlex.split(line)[3] in scripts, line
            continue
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=REPO, capture_output=True, text=True,
                             timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "0.1.0"


def test_python_worker_example_runs_as_written(start_coordinator) -> None:
    readme = REPO / "examples" / "python-worker" / "README.md"
    blocks = fenced(readme)
    commands = [code for lang, code in blocks if lang == "bash"]
    shown = [code for lang, code in blocks if lang == "text"]
    assert len(commands) == 1 and len(shown) == 1
    coordinator = start_coordinator()  # default heartbeat timeout, as in the README's output
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", commands[0]], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "STRATA_COORDINATOR": coordinator.grpc})
    assert run.returncode == 0, run.stdout + run.stderr
    printed = run.stdout.splitlines()
    events = [json.loads(line) for line in printed]
    for line in shown[0].splitlines():
        if line != "...":
            assert line in printed, f"the README shows {line!r}; the worker printed:\n{run.stdout}"
    assert [e["event"] for e in events].count("barrier") == 3
    assert all(e["acknowledged"] for e in events if e["event"] == "heartbeat")
    assert all(e["success"] for e in events if e["event"] == "checkpoint")
    assert not [e for e in events if e["event"].endswith("_failed")]


@pytest.mark.parametrize("readme", ["python/README.md", "examples/python-worker/README.md",
                                    "examples/pytorch-ddp/README.md"])
def test_readme_links_point_to_files(readme: str) -> None:
    path = REPO / readme
    for target in re.findall(r"\]\((\.[^)#]+)\)", path.read_text()):
        assert (path.parent / target).exists(), f"{readme} links to {target}, which does not exist"
