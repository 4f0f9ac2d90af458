"""What is wrong with a routing configuration: each problem with its path, all at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, and where (``teams[1].members[0]``, ``line 3, column 5``)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The problem as JSON, as the API lists it."""
        return {"path": self.path, "message": self.message}


class ConfigInvalid(ValueError):
    """A configuration refused whole; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = "; ".join(f"{p.path or '(top)'}: {p.message}" for p in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} problem(s): {shown}{more}")
        self.problems = problems
