"""The benchmark scripts still work: `python -m bench --quick` runs every scenario briefly (figures not checked)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_runs_every_scenario(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for section in ("1 ack", "2 click", "3 memory", "3 start", "4 scale", "4 dedup"):
        assert section in done.stdout, section
    figures = json.loads(out.read_text())
    assert figures["acks"]["runs"] and figures["clicks"]["runs"] and figures["memory"]["runs"]
    assert figures["scale"]["pending"] and figures["scale"]["dedup"]["events"] > 0
