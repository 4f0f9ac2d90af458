"""The router's message bus: features publish facts and ask questions; the composition root
(``bootstrap.py``) says who handles each. A feature never imports another feature: it speaks
only in the facts and questions of ``facts.py``.

Handlers of a fact run in the order they were wired, inside the unit of work that published it,
with its session: what they write commits with the fact or not at all. Each question has one
answerer, which may hand back a statement instead of rows so that the asker can run it with its
own reads in one round trip. A question several features answer in part (every feature's
problems with a config) is gathered from its contributors instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

F = TypeVar("F")
T = TypeVar("T")
Q = TypeVar("Q", bound="Question[Any]")


class Question(Generic[T]):
    """Something one feature asks and another answers; ``T`` is the answer's type."""


class Unanswered(LookupError):
    """A question nobody was wired to answer (a wiring mistake of the composition root)."""


class Bus:
    """Facts to their handlers, questions to their answerer."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[AsyncSession, Any], Awaitable[None]]]] = {}
        self._answerers: dict[type[Any], Callable[[AsyncSession, Any], Awaitable[Any]]] = {}
        self._contributors: dict[type[Any], list[Callable[[AsyncSession, Any], Awaitable[Any]]]] = {}

    def on(self, fact: type[F], *handlers: Callable[[AsyncSession, F], Awaitable[None]]) -> None:
        """Run ``handlers``, in this order, whenever ``fact`` is published."""
        self._handlers.setdefault(fact, []).extend(handlers)

    def answer(self, question: type[Q], answerer: Callable[[AsyncSession, Q], Awaitable[Any]]) -> None:
        """``answerer`` answers every ``question``; a question has one answerer."""
        if question in self._answerers:
            raise ValueError(f"{question.__name__} already has an answerer")
        self._answerers[question] = answerer

    def contribute(self, question: type[Q], *answerers: Callable[[AsyncSession, Q], Awaitable[Any]]) -> None:
        """``answerers`` each answer part of ``question`` (``gather`` collects every part)."""
        self._contributors.setdefault(question, []).extend(answerers)

    async def publish(self, session: AsyncSession, fact: object) -> None:
        """Hand ``fact`` to its handlers in ``session``'s transaction (none wired: nothing happens)."""
        for handler in self._handlers.get(type(fact), ()):
            await handler(session, fact)

    async def ask(self, session: AsyncSession, question: Question[T]) -> T:
        """The answer to ``question``, read in ``session``."""
        answerer = self._answerers.get(type(question))
        if answerer is None:
            raise Unanswered(f"nobody answers {type(question).__name__}")
        return cast(T, await answerer(session, question))

    async def gather(self, session: AsyncSession, question: Question[T]) -> list[T]:
        """Every contributor's part of the answer to ``question``, in the order they were wired."""
        return [
            cast(T, await answerer(session, question))
            for answerer in self._contributors.get(type(question), ())
        ]

    def answered(self) -> set[type[Any]]:
        """The questions that have an answerer."""
        return set(self._answerers)
