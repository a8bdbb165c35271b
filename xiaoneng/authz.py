"""Who may do what, and which agencies a user may see.

Roles (issue 7):

* leader      — reads everything
* supervisor  — reads everything, runs jobs, edits settings and the calendar, imports data,
                publishes bulletins, reads the audit log. A supervisor account may carry
                region codes (a county supervision office): it then publishes only the
                bulletins of counties in those subtrees (`publish_denied`); the city's and the
                sectors' bulletins need a supervisor without regions.
* analyst     — reads everything, exports
* unit        — reads and exports only inside an assigned scope: region subtrees and/or a
                list of agencies
* admin       — manages accounts, reads the audit log; sees no case data

`require(user, action)` is called by the functions the UI calls (not only by hiding widgets),
so a forged rerun or a direct call cannot run a job or publish without the role.

`allowed_agencies(...)` turns a user into the query layer's access scope
(`Filters.allowed_agencies`): None = everything, a tuple = only these agencies (an empty tuple
shows nothing). It fails closed: an unknown role, or a unit user with no scope, sees nothing.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from queries.errors import XiaonengError
from queries.extracts import region_children, subtree_codes

ROLES: tuple[str, ...] = ("leader", "supervisor", "analyst", "unit", "admin")
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "leader": ("领导", "Leader"),
    "supervisor": ("督查室", "Supervision office"),
    "analyst": ("分析员", "Analyst"),
    "unit": ("单位用户", "Unit user"),
    "admin": ("系统管理员", "Administrator"),
}

ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"leader", "supervisor", "analyst", "unit"}),
    "read_all": frozenset({"leader", "supervisor", "analyst"}),
    "export": frozenset({"analyst", "unit"}),
    "run_job": frozenset({"supervisor"}),
    "edit_settings": frozenset({"supervisor"}),
    "edit_calendar": frozenset({"supervisor"}),
    "import_data": frozenset({"supervisor"}),
    "publish_bulletin": frozenset({"supervisor"}),
    "view_data_admin": frozenset({"leader", "supervisor", "analyst", "admin"}),
    "view_quarantine": frozenset({"leader", "supervisor", "analyst"}),
    "view_audit": frozenset({"supervisor", "admin"}),
    "manage_accounts": frozenset({"admin"}),
}


# The role the audit log records for a command run on the server by a local operator (the CLI
# without --as-user): someone who can run it can read DATABASE_URL anyway, so it is not a
# dashboard role and grants nothing in the app.
CLI_ROLE = "operator"


def cli_actor() -> str:
    """Who runs a CLI command, for the audit log: "os:<OS user>".

    No free-text name: a name given with `--actor`/`--user` is an account, checked for the
    role of the act by `xiaoneng.cli_identity.resolve`.
    """
    try:
        name = getpass.getuser()
    except Exception:  # no passwd entry (some containers) and no LOGNAME/USER
        name = os.environ.get("USER") or "unknown"
    return f"os:{name}"[:64]


class PermissionDenied(XiaonengError):
    """The signed-in user's role does not allow the action."""


@dataclass(frozen=True)
class User:
    """The signed-in user as the app sees it (hashable: part of no cache key, but comparable).

    `regions` and `agencies` are the unit user's assigned scope (ignored for other roles).
    """

    username: str
    role: str
    display_name: str = ""
    regions: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    method: str = "password"  # password / sso / demo / test

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(sorted({str(r) for r in self.regions})))
        object.__setattr__(self, "agencies", tuple(sorted({str(a) for a in self.agencies})))

    @property
    def scope_label(self) -> str:
        """What the user may see, as recorded in the audit log."""
        if self.role in ACTIONS["read_all"]:
            return "all"
        if self.role != "unit":
            return "none"
        parts = [f"region:{r}" for r in self.regions] + [f"agency:{a}" for a in self.agencies]
        return ",".join(parts) or "none"


def can(user: User | None, action: str) -> bool:
    if user is None:
        return False
    if action not in ACTIONS:
        raise XiaonengError(f"unknown action {action!r}")
    return user.role in ACTIONS[action]


def require(user: User | None, action: str) -> User:
    """Raise PermissionDenied unless `user` may do `action`; return the user."""
    if user is None:
        raise PermissionDenied(f"not signed in: {action} needs a signed-in user")
    if not can(user, action):
        raise PermissionDenied(f"role {user.role!r} may not {action}")
    return user


def subtree(regions: Iterable[tuple[str, str | None]], roots: Sequence[str]) -> set[str]:
    """Every region code under (and including) `roots`, from (code, parent) pairs."""
    return set(subtree_codes(region_children(regions), roots))


def allowed_agencies(
    user: User | None,
    regions: Iterable[tuple[str, str | None]],
    agencies: Iterable[tuple[str, str]],
) -> tuple[str, ...] | None:
    """The user's access scope as agency codes (None: unrestricted; () : nothing).

    `regions` are (region_code, parent_code) pairs, `agencies` (agency_code, region_code)
    pairs, both read from the database by the caller.
    """
    if user is None:
        return ()
    if user.role in ACTIONS["read_all"]:
        return None
    if user.role != "unit":
        return ()
    codes = subtree(regions, user.regions) if user.regions else set()
    known = {a: r for a, r in agencies}
    out = {a for a, r in known.items() if r in codes}
    out |= {a for a in user.agencies if a in known}
    return tuple(sorted(out))


def bulletin_scopes_allowed(user: User | None) -> tuple[str, ...] | None:
    """Bulletin scope keys the user may read: None = any; a tuple of "county:CODE" otherwise.

    A unit user assigned exactly county regions reads those counties' bulletins; a unit user
    scoped by agency list reads none (a bulletin covers a whole county or sector).
    """
    if user is None:
        return ()
    if user.role in ACTIONS["read_all"]:
        return None
    if user.role != "unit":
        return ()
    return tuple(f"county:{r}" for r in user.regions)


def publish_denied(user: User | None, bulletin_scope: str,
                   regions: Iterable[tuple[str, str | None]]) -> str | None:
    """Why `user` may not publish the bulletin of `bulletin_scope` ("county:CODE", "city:…",
    "sector:…"), or None when it may.

    A supervisor without regions (the city's supervision office) publishes any bulletin; a
    county supervisor (regions set) only the bulletins of counties in its subtrees. `regions`
    are (region_code, parent_code) pairs read from the database by the caller.
    """
    if user is None:
        return "not signed in"
    if not can(user, "publish_bulletin"):
        return f"role {user.role} may not publish bulletins"
    if not user.regions:
        return None
    kind, _, code = bulletin_scope.partition(":")
    if kind == "county" and code in subtree(regions, user.regions):
        return None
    return (f"a county supervisor ({', '.join(user.regions)}) publishes only its own "
            f"counties' bulletins, not {bulletin_scope}")
