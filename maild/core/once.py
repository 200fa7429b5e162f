"""functools.cached_property without its lock, as Python 3.12 has it.

Python 3.11's takes an RLock on every first read of every property, for objects (a parse's Context, a preset
match's View) that only the thread which made them ever reads. The value goes into the instance's __dict__, which
every later read finds first (a non-data descriptor). mypy sees functools' own, whose typing is the same.
"""

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from functools import cached_property
else:

    class cached_property:  # noqa: N801 - functools' name, for what reads as functools' own
        __slots__ = ("func", "name")

        def __init__(self, func):
            self.func = func
            self.name = func.__name__

        def __set_name__(self, owner, name):
            self.name = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.name] = self.func(instance)
            return value

__all__ = ["cached_property"]
