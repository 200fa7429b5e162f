"""Standard modules that others import at their own import but seldom call: run on their first use instead.

The email package imports socket (for make_msgid's host name; with selectors, select and array), random (make_msgid
again) and calendar (mktime_tz, with locale) when email.utils is imported, which every message the parser reads
needs; `maild parse` and `maild ingest` call none of them. `defer()` puts such a module in sys.modules made but not
run: `import socket` binds it, and the first access to a name it does not have yet (`socket.getfqdn`, `from socket
import AF_INET`, setting or deleting one) runs the module's code in that same module object, which from then on is
an ordinary module. importlib.util.LazyLoader does not serve here: an `import` of a module found in sys.modules reads
its `__spec__`, which runs a LazyLoader module at once; a deferred module has its spec already. A module that is
imported already, or not found, is left as it is. Single-threaded start-up only: two threads' first uses could both
run the module.
"""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

EMAIL_UNUSED = ("socket", "random", "calendar")  # what a command's email import loads and its parse never calls


class Deferred(types.ModuleType):
    """A module made from its spec whose code runs at the first use of a name it does not hold yet."""

    def __getattr__(self, name: str) -> Any:
        _run(self)
        return getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        _run(self)
        setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        _run(self)
        delattr(self, name)


def _run(module: types.ModuleType) -> None:
    object.__setattr__(module, "__class__", types.ModuleType)  # an ordinary module from here on, even if its code fails
    spec = module.__spec__
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(module)


def defer(*names: str) -> None:
    """Make each named top-level module run at its first use rather than at its import."""
    # importlib.util's module_from_spec is _bootstrap's; importlib.util itself would import contextlib. The modules
    # deferred are the standard library's, which the path finder finds.
    from importlib._bootstrap import module_from_spec
    from importlib.machinery import PathFinder

    for name in names:
        if name in sys.modules:
            continue
        spec = PathFinder.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            continue
        module = module_from_spec(spec)
        module.__class__ = Deferred
        sys.modules[name] = module


def is_loaded(name: str) -> bool:
    """Whether the module was imported and has run (a deferred module nobody used has not)."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, Deferred)
