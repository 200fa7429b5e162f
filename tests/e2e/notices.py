"""What the real-MTA notice tests share: the scenario's sender, a scratch folder, keeping the notices, a report's rows.

Each of tests/e2e/test_*_notices.py runs a private MTA (Exim, Postfix, Sendmail, OpenSMTPD) against a scripted
remote and parses what it sends back. The notices are kept as tests/data/lhost/*-real-*.eml when the module's
MAILD_KEEP_*_NOTICES switch is set, so the parser's own tests (tests/reports/test_lhost.py) read real output
where the MTA cannot run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from maild.reports import Report

TOKEN = "mfrggzdfmztwq2lknnwg23tpobyxe43u"
SENDER = f"receipts+{TOKEN}@helpdesk.example.com"  # the VERP address every notice comes back to
LHOST = Path(__file__).resolve().parents[1] / "data" / "lhost"


def skip_if_missing(why: str | None) -> None:
    """Skip the module when its MTA cannot run here: a failure where the run must be complete (tests/support/skip_policy.py)."""
    if why:
        pytest.skip(why)


@contextmanager
def scratch(prefix: str, mode: int | None = None) -> Iterator[Path]:
    """A folder of our own, removed afterwards; `mode` where the MTA's own user must traverse it (mkdtemp's is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if mode is not None:
        folder.chmod(mode)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def keep(notices: Mapping[str, bytes], switch: str) -> None:
    """With `switch` set in the environment, write each notice as tests/data/lhost/NAME.eml (NAME: its key)."""
    if os.environ.get(switch):
        for name, raw in notices.items():
            (LHOST / f"{name}.eml").write_bytes(raw)


def rows(report: Report) -> list[tuple[str | None, str | None, str | None, str, bool | None]]:
    """The report's recipients as (address, action, status, reason, hard), in the report's order."""
    return [(r.address, r.action, r.status, str(r.reason), r.hard) for r in report.recipients]
