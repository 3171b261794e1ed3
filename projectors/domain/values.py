"""Values as the store keeps them, so a folded document equals itself read back.

- Times: BSON keeps milliseconds. The folds truncate event times to milliseconds, so a
  document computed from events and the same document read from MongoDB give the same
  derived contributions (a microsecond could move a whole second of processing time).
- Integers: BSON holds 64 bits. A number from an event that does not fit (or a running
  sum that would not) makes the event unprojectable: it is dead-lettered instead of
  failing its batch at every redelivery, which would stall its stream for every tenant.
"""

from __future__ import annotations

from datetime import datetime

from shared.read_models import INT64_MAX

from projectors.domain.errors import Unprojectable


def millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def int64(value: int, what: str) -> int:
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise Unprojectable(f"{what} {value} does not fit in 64 bits")
    return value
