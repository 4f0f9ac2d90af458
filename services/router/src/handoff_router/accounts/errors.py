"""What the account book's use cases refuse."""

from __future__ import annotations

from handoff_shared.http import DomainError


class AccountNotFound(DomainError):
    """No account of that id in the book."""


class BookConflicts(DomainError):
    """Duplicate ids, or a domain claimed by two accounts: the import is refused whole, and
    ``conflicts`` lists every one; the book stays as it was."""


class BookUnreadable(DomainError):
    """A book file that cannot be read as rows (not JSON, not UTF-8, an unknown mapping...)."""


class BookTooLarge(DomainError):
    """A book file over the import size limit."""
