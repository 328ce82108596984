"""One state machine helper for every lifecycle: a status enum, an event enum, one table.

Each domain declares its lifecycle as data, ``{(status, event): next status}``, and asks
the helper for the move; nothing else decides. An event leads to one status whatever its
source (``target``), so a conditional ``UPDATE … SET status = :target WHERE status IN
:sources`` can apply it atomically when two processes race on one row.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.core.errors import StateConflict

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class IllegalTransition(StateConflict):
    """The table has no move for this event from this status (a 409)."""

    title = "Illegal state transition"


class Lifecycle(Generic[S, E]):
    """The allowed moves of one kind of thing (``name``: "pledge", "instalment", …)."""

    def __init__(self, name: str, statuses: type[S], events: type[E], transitions: Mapping[tuple[S, E], S],
                 *, initial: tuple[S, ...]) -> None:
        self.name = name
        self.statuses = statuses
        self.events = events
        self.transitions: dict[tuple[S, E], S] = dict(transitions)
        #: The statuses a row may be created in (the others must be reached by a move).
        self.initial = initial
        self._targets: dict[E, S] = {}
        for (_, event), destination in self.transitions.items():
            if self._targets.setdefault(event, destination) is not destination:
                raise ValueError(f"{name}: event {event.value} leads to more than one status")

    def next_status(self, current: str, event: E) -> S:
        """The status after ``event``, or IllegalTransition (a 409) if the table forbids it."""
        try:
            return self.transitions[(self.statuses(current), event)]
        except KeyError:
            article = "An" if self.name[0] in "aeiou" else "A"
            raise IllegalTransition(
                f"{article} {self.name} that is {current.replace('_', ' ')} "
                f"cannot {event.value.replace('_', ' ')}.",
                {"status": [f"not allowed from {current}"]},
            ) from None

    def sources(self, event: E) -> tuple[S, ...]:
        """The statuses ``event`` may leave from (for a conditional UPDATE's WHERE)."""
        return tuple(src for (src, ev) in self.transitions if ev is event)

    def target(self, event: E) -> S:
        """Where ``event`` leads (each event has one destination, whatever its source)."""
        return self._targets[event]

    def move(self, obj: Any, event: E) -> S:
        """Apply ``event`` to an ORM object's ``status`` (flushes nothing); IllegalTransition if forbidden."""
        status = self.next_status(obj.status, event)
        obj.status = status.value
        return status
