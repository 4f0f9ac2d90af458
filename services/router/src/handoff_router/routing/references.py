"""Checks across a routing configuration's sections: ids, references, hours, ladder, fallback.

They read the raw data rather than the validated model, so they run even when a shape
problem elsewhere has already been found, and ``validate_config`` can list everything
wrong with a configuration in one answer. Parts whose shape is wrong are passed over
here; the model's validation reports those.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

from handoff_router.routing import conditions
from handoff_router.routing.problems import Problem

Items = list[tuple[int, Mapping[str, Any]]]


def cross_reference_problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    """Every problem that spans sections or entries of ``data``, each with its path."""
    reps, teams = _items(data.get("reps")), _items(data.get("teams"))
    yield from _duplicates(data, reps, teams)
    rep_ids = _ids(reps)
    team_ids = _ids(teams)
    yield from _manager_references(reps, _ids(_items(data.get("managers"))))
    yield from _cover_references(reps, rep_ids)
    yield from _member_references(teams, rep_ids)
    yield from _rule_references(_items(data.get("rules")), team_ids)
    yield from _account_references(_items(data.get("accounts")), rep_ids, team_ids)
    sla = data.get("sla")
    yield from _hours_problems(sla, "sla")
    yield from _ladder_problems(sla.get("ladder") if isinstance(sla, Mapping) else None, "sla.ladder")
    for index, team in teams:
        yield from _hours_problems(team.get("sla"), f"teams[{index}].sla")
        own = team.get("sla")
        yield from _ladder_problems(
            own.get("ladder") if isinstance(own, Mapping) else None, f"teams[{index}].sla.ladder"
        )
        yield from _working_hours_problems(index, team, sla)
    yield from _fallback_problems(data.get("fallback_team"), reps, teams)


def _duplicates(data: Mapping[str, Any], reps: Items, teams: Items) -> Iterator[Problem]:
    sections = (
        ("reps", reps, "id"),
        ("managers", _items(data.get("managers")), "id"),
        ("teams", teams, "id"),
        ("rules", _items(data.get("rules")), "id"),
        ("accounts", _items(data.get("accounts")), "domain"),
    )
    for section, items, key in sections:
        counts = Counter(_fold(key, item[key]) for _, item in items if isinstance(item.get(key), str))
        for index, item in items:
            value = item.get(key)
            if isinstance(value, str) and counts[_fold(key, value)] > 1:
                yield Problem(f"{section}[{index}].{key}", f"duplicate {key} {value!r}")
    for key in ("rejection_reasons", "disqualification_reasons"):
        yield from _duplicate_reasons(data.get(key), key)


def _duplicate_reasons(reasons: Any, key: str) -> Iterator[Problem]:
    if not isinstance(reasons, list):
        return
    seen: set[str] = set()
    for position, reason in enumerate(reasons):
        if isinstance(reason, str) and reason in seen:
            yield Problem(f"{key}[{position}]", f"duplicate reason {reason!r}")
        if isinstance(reason, str):
            seen.add(reason)


def _manager_references(reps: Items, manager_ids: set[str]) -> Iterator[Problem]:
    for index, rep in reps:
        manager = rep.get("manager")
        if isinstance(manager, str) and manager not in manager_ids:
            yield Problem(f"reps[{index}].manager", f"unknown manager {manager!r}")


def _cover_references(reps: Items, rep_ids: set[str]) -> Iterator[Problem]:
    for index, rep in reps:
        cover = rep.get("cover")
        if isinstance(cover, str) and cover not in rep_ids:
            yield Problem(f"reps[{index}].cover", f"unknown rep {cover!r}")
        elif isinstance(cover, str) and cover == rep.get("id"):
            yield Problem(f"reps[{index}].cover", "a rep cannot cover for themselves")


def _member_references(teams: Items, rep_ids: set[str]) -> Iterator[Problem]:
    for index, team in teams:
        members = team.get("members")
        if not isinstance(members, list):
            continue
        seen: set[str] = set()
        for position, member in enumerate(members):
            if not isinstance(member, str):
                continue
            if member not in rep_ids:
                yield Problem(f"teams[{index}].members[{position}]", f"unknown rep {member!r}")
            elif member in seen:
                yield Problem(f"teams[{index}].members[{position}]", f"{member!r} is listed twice")
            seen.add(member)


def _rule_references(rules: Items, team_ids: set[str]) -> Iterator[Problem]:
    for index, rule in rules:
        team = rule.get("team")
        if isinstance(team, str) and team not in team_ids:
            yield Problem(f"rules[{index}].team", f"unknown team {team!r}")
        when = rule.get("when")
        if isinstance(when, Mapping):  # anything else is a shape problem, reported by the model
            for where, message in conditions.problems(when):
                joined = where if not where or where.startswith("[") else f".{where}"
                yield Problem(f"rules[{index}].when{joined}", message)


def _account_references(accounts: Items, rep_ids: set[str], team_ids: set[str]) -> Iterator[Problem]:
    for index, account in accounts:
        owner, team = account.get("owner"), account.get("team")
        if isinstance(owner, str) and owner not in rep_ids:
            yield Problem(f"accounts[{index}].owner", f"unknown rep {owner!r}")
        if isinstance(team, str) and team not in team_ids:
            yield Problem(f"accounts[{index}].team", f"unknown team {team!r}")


def _hours_problems(sla: Any, path: str) -> Iterator[Problem]:
    hours = sla.get("business_hours") if isinstance(sla, Mapping) else None
    if not isinstance(hours, Mapping):
        return
    start, end = hours.get("start"), hours.get("end")
    if _is_clock(start) and _is_clock(end) and start >= end:
        yield Problem(
            f"{path}.business_hours", f"start {start} must come before end {end} (hours within one day)"
        )


def _working_hours_problems(index: int, team: Mapping[str, Any], sla: Any) -> Iterator[Problem]:
    if team.get("working_hours_only") is not True:
        return
    own = team.get("sla")
    if not any(isinstance(part, Mapping) and part.get("business_hours") is not None for part in (own, sla)):
        yield Problem(
            f"teams[{index}].working_hours_only",
            "working hours are not set: add sla.business_hours, or business_hours to the team's sla",
        )


def _ladder_problems(ladder: Any, path: str) -> Iterator[Problem]:
    if not isinstance(ladder, list):
        return
    previous: float | None = None
    for index, step in enumerate(ladder):
        at = step.get("at") if isinstance(step, Mapping) else None
        if not isinstance(at, str) or not re.fullmatch(r"\d{1,4}(\.\d+)?%", at):
            continue
        percent = float(at[:-1])
        if previous is not None and percent <= previous:
            yield Problem(f"{path}[{index}].at", f"{at} must come after the step before it")
        previous = percent


def _fallback_problems(fallback: Any, reps: Items, teams: Items) -> Iterator[Problem]:
    if not isinstance(fallback, str):
        return
    team = next((team for _, team in teams if team.get("id") == fallback), None)
    if team is None:
        yield Problem("fallback_team", f"unknown team {fallback!r}")
        return
    members = team.get("members")
    can_take = {
        rep["id"]
        for _, rep in reps
        if isinstance(rep.get("id"), str)
        and rep.get("active", True) is True
        and rep.get("max_open") != 0
        and rep.get("max_per_day") != 0
    }
    if isinstance(members, list) and members and not any(member in can_take for member in members):
        yield Problem(
            "fallback_team",
            f"unreachable fallback: no member of team {fallback!r} is active with room for a lead",
        )


def _fold(key: str, value: str) -> str:
    return value.lower() if key == "domain" else value  # domains are case-insensitive, ids are not


def _is_clock(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) is not None


def _items(section: Any) -> Items:
    if not isinstance(section, list):
        return []
    return [(index, item) for index, item in enumerate(section) if isinstance(item, Mapping)]


def _ids(items: Items) -> set[str]:
    return {item["id"] for _, item in items if isinstance(item.get("id"), str)}
