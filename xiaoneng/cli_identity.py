"""Who a CLI command acts as, for the permission check and the audit log.

Without a name the actor is the OS user (`os:NAME`, role `operator`, scope `all`): the local
operator on the server, who holds DATABASE_URL anyway. A name given with `--actor`, `--user`
or `--as-user` must be an existing, usable account whose role allows the act (and, for a
bulletin, whose scope covers it); the act is then recorded as that account, with the OS user
in the detail. A refused name is audited under the act's own action (`ok: false`, the reason)
and stops the command with one line — a free-text name can no longer pose as a publisher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from xiaoneng.authz import CLI_ROLE, PermissionDenied, User, can, cli_actor, publish_denied

# The audit action a refusal is recorded under, per authz action.
AUDIT_ACTION = {"import_data": "import", "run_job": "job_run", "edit_calendar": "calendar",
                "export": "export", "publish_bulletin": "publish"}


@dataclass(frozen=True)
class Actor:
    """The audited identity of one CLI act."""

    username: str
    role: str
    scope: str
    os_user: str
    user: User | None = None  # the account, when the command named one

    def audit(self) -> dict[str, Any]:
        """The `role=` and `scope=` keywords of `queries.audit.record` / `hook`."""
        return {"role": self.role, "scope": self.scope}


def os_actor() -> Actor:
    name = cli_actor()
    return Actor(name, CLI_ROLE, "all", name)


def _regions(engine: Engine):
    from queries import extracts

    return extracts.load_regions(engine).select("region_code", "parent_code").iter_rows()


def resolve(engine: Engine, name: str | None, action: str, *, flag: str = "--actor",
            bulletin_scope: str | None = None, detail: dict[str, Any] | None = None) -> Actor:
    """The actor of a CLI act: the OS user, or the named account if it may do `action`.

    Raises PermissionDenied (after an audit row) for an unknown, disabled or demo account, a
    role without `action`, or a bulletin outside a county supervisor's scope.
    """
    from queries import accounts_store, audit

    if name is None or not name.strip():
        return os_actor()
    name = name.strip()[:64]
    os_user = cli_actor()
    acc = accounts_store.get_account(engine, name)
    if acc is None:
        reason = "unknown account"
    elif acc.disabled:
        reason = "account disabled"
    elif not acc.usable:
        reason = "demo account (only on a demo server)"
    elif not can(acc.user("cli"), action):
        reason = f"role {acc.role} may not {action.replace('_', ' ')}"
    elif bulletin_scope is not None:
        reason = publish_denied(acc.user("cli"), bulletin_scope, _regions(engine))
    else:
        reason = None
    if reason is not None:
        audit.record(engine, name, AUDIT_ACTION.get(action, action),
                     role=acc.role if acc else None,
                     detail={"via": "cli", **(detail or {}), "ok": False, "reason": reason,
                             "os_user": os_user})
        raise PermissionDenied(f"{flag} {name}: {reason}")
    assert acc is not None
    user = acc.user("cli")
    return Actor(user.username, user.role, user.scope_label, os_user, user)
