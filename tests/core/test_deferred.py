"""A deferred module runs at its first use, once, as the same module object; until then importing it runs nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = """
import sys
sys.runs = getattr(sys, "runs", 0) + 1
VALUE = 42
def answer():
    return VALUE
"""

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from maild.core import deferred
deferred.defer("probe_mod", "no_such_module_here", "json")
seen = {"missing": "no_such_module_here" in sys.modules, "json_ordinary": deferred.is_loaded("json")}
import probe_mod
import probe_mod as again
seen["runs_after_import"] = getattr(sys, "runs", 0)
seen["loaded_after_import"] = deferred.is_loaded("probe_mod")
seen["spec_name"] = probe_mod.__spec__.name  # the import machinery reads it: it must not run the module
seen["runs_after_spec"] = getattr(sys, "runs", 0)
STEP
seen["runs"] = sys.runs
seen["same"] = sys.modules["probe_mod"] is probe_mod is again
seen["loaded"] = deferred.is_loaded("probe_mod")
seen["class"] = type(probe_mod).__name__
print(json.dumps(seen))
"""

STEPS = {
    "attribute": 'seen["value"] = probe_mod.answer()',
    "from": 'from probe_mod import VALUE; seen["value"] = VALUE',
    "set": 'probe_mod.VALUE = 7; seen["value"] = probe_mod.answer()',
    "hasattr": 'seen["value"] = hasattr(probe_mod, "nothing") or probe_mod.VALUE',
}


def run(tmp_path: Path, step: str) -> dict[str, object]:
    (tmp_path / "probe_mod.py").write_text(MODULE)
    code = PROBE.replace("STEP", step)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout
    found: dict[str, object] = json.loads(out)
    return found


@pytest.mark.parametrize("how", sorted(STEPS))
def test_a_deferred_module_runs_once_at_its_first_use(tmp_path: Path, how: str) -> None:
    seen = run(tmp_path, STEPS[how])
    assert seen["missing"] is False  # a name that is not found gets no entry: its import fails as before
    assert seen["json_ordinary"] is True  # already imported (by the probe): left as it was
    assert (seen["runs_after_import"], seen["loaded_after_import"], seen["runs_after_spec"]) == (0, False, 0)
    assert seen["spec_name"] == "probe_mod"
    assert seen["runs"] == 1
    assert seen["same"] is True and seen["loaded"] is True and seen["class"] == "module"
    assert seen["value"] == (7 if how == "set" else 42)


def test_a_failing_module_fails_at_its_first_use_and_becomes_ordinary(tmp_path: Path) -> None:
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('broken at import')\n")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from maild.core import deferred\n"
        "deferred.defer('broken_mod')\n"
        "import broken_mod\n"
        "try:\n    broken_mod.anything\nexcept RuntimeError as exc:\n    print('raised', exc)\n"
        "print(type(broken_mod).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["raised broken at import", "module"]
