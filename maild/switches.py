"""The receipt settings intake and delivery decide by, held in memory per connection until a writer changes them.

Each intake batch and each delivery pick asks whether a copy requests a read
receipt and gets the open pixel: the stored receipts default
(maild.store.settings), the department's receipt switch and its pixel switch
(maild.departments). Reading those rows per batch was most of the
statements the relay path added since 5d7d2c1. `Switches` is all of them at
one settings generation (schema migration 10: triggers bump
`settings_generation.n` in the transaction of every change, whoever writes:
the HTTP API, the web panel, `maild departments` in a process of its own,
plain SQL). A job reads the generation in a statement it runs anyway
(`GENERATION` as one more column) and calls `current(db, generation)`: the
held settings when the number is the same, a fresh read of the three tables
otherwise. The generation is read before the settings, so settings read are
never older than the number they are held under; a change committed in
between only costs one more read.

The settings are held per database handle (weakly: a closed handle's go
with it), so two stores in one process never share them, and a handle's
jobs on one thread at a time never race; a race between handles only ever
stores a snapshot under the generation it was read at.
"""

from __future__ import annotations

from _weakref import ref  # weakref's C core: the weakref module (WeakKeyDictionary) costs a reader's start-up ~1.5%
from collections.abc import Callable, Mapping

from maild import departments
from maild.core.frozen import frozen
from maild.core.sqldb import Db
from maild.store import settings as store_settings

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import TypeVar, cast
else:
    from maild.core.hints import TypeVar, cast

# A scalar subquery to add to a job's first SELECT: SQLite runs it once per statement, not once per row.
GENERATION = "(SELECT n FROM settings_generation)"

T = TypeVar("T")


@frozen
class Switches:
    """The receipt settings at one settings generation; answers as departments.receipts_enabled and pixel_enabled."""

    generation: int
    receipts_default: bool  # tracking.receipts_default as stored
    receipts: Mapping[str, bool]  # department key -> its explicit read-receipt switch
    pixel: Mapping[str, bool]  # department key -> its open pixel switch

    def receipts_enabled(self, department: str | None) -> bool:
        own = self.receipts.get(departments.key(department)) if department else None
        return departments.switched_on(department, own, self.receipts_default)

    def pixel_enabled(self, department: str | None) -> bool:
        """Never without an explicit switch."""
        return bool(department) and self.pixel.get(departments.key(department or ""), False)


def read(db: Db, generation: int) -> Switches:
    """The settings as stored now, held under `generation` (read by the caller before this)."""
    receipts = {str(k): bool(v) for k, v in db.execute("SELECT key, receipts_enabled FROM departments")}
    return Switches(generation, store_settings.receipts_default(db), receipts, departments.pixel_switches(db))


# Per handle: a weak reference to it, the settings generation and what was read at it (the Switches, and the readers'
# own answers); what weakref.WeakKeyDictionary held, by the handle's id. The reference's callback drops the entry
# when the handle is freed, which is before its id can be another object's; a lookup also checks the reference.
_held: dict[int, tuple[ref[Db], int, dict[object, object]]] = {}


def _forget(key: int) -> Callable[[object], None]:
    def forget(_gone: object) -> None:
        _held.pop(key, None)

    return forget


def held(db: Db, generation: object, key: object, make: Callable[[], T]) -> T:
    """`make()`'s answer, held for `db` under `key` while the settings generation stays `generation`.

    No number (someone deleted the row: the subquery gives NULL): `make()` runs every time and nothing is
    held, so a switch still applies to the next message, and intake and delivery go on."""
    key_of_db = id(db)
    if not isinstance(generation, int):
        _held.pop(key_of_db, None)
        return make()
    at = _held.get(key_of_db)
    if at is None or at[0]() is not db:
        at = _held[key_of_db] = (ref(db, _forget(key_of_db)), generation, {})
    elif at[1] != generation:
        at = _held[key_of_db] = (at[0], generation, {})
    if key not in at[2]:
        at[2][key] = make()
    return cast(T, at[2][key])


def current(db: Db, generation: object) -> Switches:
    """The settings at `generation` (read from settings_generation by the caller's own statement)."""
    number = generation if isinstance(generation, int) else -1
    return held(db, generation, Switches, lambda: read(db, number))


def generation(db: Db) -> int | None:
    """The settings generation on its own, for a job with no statement to add `GENERATION` to."""
    value = db.execute(f"SELECT {GENERATION}").fetchone()[0]
    return value if isinstance(value, int) else None
