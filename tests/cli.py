"""`approval-bot ARGS` run inside the test process, with exactly the environment and working directory given.

A subprocess would import lark-oapi anew (about 4 s each); the console script itself is started for real by the
slow tier (tests/e2e/test_demo_command.py, tests/longconn/test_process.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

from bot.cli import main


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["approval-bot", *args], code, out.getvalue(), err.getvalue())
