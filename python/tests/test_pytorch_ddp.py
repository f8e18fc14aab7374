"""The PyTorch example (examples/pytorch-ddp) run as its README says, with a kill -9 of rank 0,
checked from its run folder independently of the launcher's own summary."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from conftest import REPO, require
from strata_client import DataPosition

torch = require("torch", "python3-torch")

EXAMPLE = REPO / "examples" / "pytorch-ddp"


def readme_command() -> list[str]:
    """The README's launch command (the one bash block that runs launch.py)."""
    text = (EXAMPLE / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [line for block in blocks for line in block.splitlines() if "launch.py" in line]
    assert len(commands) == 1, commands
    return shlex.split(commands[0])


def test_ddp_job_survives_kill_9_of_rank_0_with_every_sample_once_and_falling_loss(python: str) -> None:
    command = readme_command()
    assert command[0] == "/usr/bin/python3" and "--kill-rank" in command
    command[0] = python  # the same interpreter as the suite (Debian's /usr/bin/python3 in CI)
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240)
    output = run.stdout
    folder = re.search(r"run folder (\S+)", output)
    assert folder, output + run.stderr
    run_dir = Path(folder.group(1))
    try:
        assert run.returncode == 0, f"{output}\n{run.stderr}\n" + "\n".join(
            f"--- {log.name}\n{log.read_text()[-2000:]}" for log in run_dir.glob("ddp-*.log"))
        assert re.search(r"^--- kill -9 ddp-\d \(rank 0, pid \d+\)", output, re.M), output
        check_run_folder(run_dir, output)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def check_run_folder(run_dir: Path, output: str) -> None:
    generations = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    first, last = generations[0], generations[-1]
    assert first["world"] == 3 and first["resume_step"] == 0
    assert len(generations) >= 2 and last["world"] == 2, generations
    assert last["resume_step"] > 0, "the new group should resume from a checkpoint, not the start"
    # It resumed from the file the broken group's rank 0 wrote (one job id for every group).
    resumed_from = torch.load(run_dir / "checkpoints" / f"step-{last['resume_step']}-g{last['resume_gen']}.pt")
    assert (resumed_from["step"], resumed_from["gen"]) == (last["resume_step"], last["resume_gen"])
    assert DataPosition.from_bytes(resumed_from["position"]).consumed_samples == last["consumed_at_resume"]
    by_gen = {g["gen"]: g for g in generations}

    entries = [json.loads(line) for log in (run_dir / "samples").glob("*.jsonl") for line in log.read_text().splitlines()]
    # Walk the lineage back from the last group: a group's steps count up to the step the next
    # group of the lineage resumed from; groups off the lineage do not count at all.
    kept: dict[int, int | None] = {}
    gen, upto = last["gen"], None
    while gen is not None:
        kept[gen] = upto
        upto, gen = by_gen[gen]["resume_step"], by_gen[gen]["resume_gen"]
    counted = [e for e in entries if e["gen"] in kept and (kept[e["gen"]] is None or e["step"] <= kept[e["gen"]])]
    rolled_back = [e for e in entries if e not in counted]
    assert rolled_back, "the kill should have cost some steps after the last checkpoint"
    assert "--samples" not in readme_command()
    samples = 2048  # train.py's default dataset size
    epochs = sorted({e["epoch"] for e in entries})
    assert epochs == [0, 1, 2]
    for epoch in epochs:
        seen = Counter(i for e in counted if e["epoch"] == epoch for i in e["samples"])
        assert set(seen) == set(range(samples)), f"epoch {epoch}: samples missing"
        assert max(seen.values()) == 1, f"epoch {epoch}: {[i for i, n in seen.items() if n > 1][:10]} seen twice"
    # Every rank of a group took the same steps (lockstep), and a step's batches are disjoint.
    for gen in kept:
        steps = Counter(e["step"] for e in entries if e["gen"] == gen)
        assert set(steps.values()) <= {by_gen[gen]["world"], by_gen[gen]["world"] - 1}  # the killed rank's last

    losses = [float(x) for x in re.findall(r"epoch \d done at step \d+: mean loss ([0-9.]+)", output)]
    assert len(losses) == 3 and losses[-1] < losses[0] / 2, losses

    checkpoint = max((run_dir / "checkpoints").glob("step-*-g*.pt"), key=lambda p: p.stat().st_mtime)
    state = torch.load(checkpoint)
    assert set(state) == {"model", "optimizer", "step", "epoch", "gen", "position"}
    assert not list((run_dir / "checkpoints").glob("*.tmp-*")), "a temporary checkpoint file was left behind"
