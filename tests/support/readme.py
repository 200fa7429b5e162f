"""The README's own receiver code, extracted and run as written: an implementation of the webhook signature that is not maild's."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier() -> Callable[[bytes, Mapping[str, str], bytes], bool]:
    """`verified(secret, headers, body)` from the README's webhooks section; fails if the README lost it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    code = [b for b in blocks if "def verified(" in b]
    assert len(code) == 1, "README.md must show exactly one `def verified(...)` receiver example"
    namespace: dict[str, object] = {}
    exec(compile(code[0], "README.md:verified", "exec"), namespace)  # noqa: S102 - our own README, on purpose
    fn = namespace["verified"]
    assert callable(fn)
    return fn  # type: ignore[return-value]
