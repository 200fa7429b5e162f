"""Paths named in the configuration: ${NAME} from the environment, relative ones against the configuration's folder."""

from __future__ import annotations

import os
from pathlib import Path

from maild.core.lazyre import lazy

_ENV_VAR = lazy(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str) -> str:
    """${NAME} becomes that environment variable (e.g. systemd's ${CREDENTIALS_DIRECTORY}); unset or empty ones stay as written."""
    return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1)) or m.group(0), text)


def resolve_path(text: str, base: Path) -> Path:
    """${NAME} expands from the environment; a relative path resolves against `base` (the config file's folder)."""
    p = Path(expand_env(text)).expanduser()
    return p if p.is_absolute() else base / p
