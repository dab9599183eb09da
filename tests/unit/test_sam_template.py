"""The SAM template passes cfn-lint (the same check `sam validate --lint` runs)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sam_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    res = subprocess.run(
        [str(cfn_lint), str(ROOT / "sam-template.yaml")], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
