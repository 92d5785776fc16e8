"""A short run of the fleet simulator is part of the suite (the full run is in the report)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_simulation_under_faults_loses_and_doubles_nothing():
    database = os.environ.get("FIELDSYNC_TEST_DATABASE", "sqlite")
    process = subprocess.run(
        [sys.executable, "-m", "clients.simulator", "--crews", "6", "--duration", "20",
         "--workers", "2", "--db", database, "--kill-worker", "--seed", "11"],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert "RESULT: all checks passed" in output
    assert "FAIL" not in output
    assert "killed gunicorn worker" in output
