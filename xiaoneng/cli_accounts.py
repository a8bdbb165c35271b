"""`xiaoneng accounts create-admin|create|list|disable|set-password|unlock|disable-demo|demo`.

Passwords are read from the prompt (twice, not echoed) or from an environment variable named
with --password-env (for scripts); never from the command line, where they would land in the
shell history and the process list. Every change is audited as the OS user who ran the command
(`os:NAME`, role `operator`): whoever can run it on the server holds DATABASE_URL anyway.

Demo accounts (`accounts demo`, the published password `DEMO_PASSWORD`) are created only in a
database the demo command created (`xiaoneng init-db --demo`) and sign in only on a server run
with XIAONENG_DEMO=1. `create-admin` ignores them when it checks for an existing administrator
and offers to disable them (`--disable-demo` in scripts); `list` flags them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from queries.accounts_store import DEMO_PASSWORD
from queries.errors import XiaonengError
from xiaoneng.authz import CLI_ROLE, cli_actor

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "ensure_demo_accounts", "register"]

DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("demo-leader", "leader", "演示 · 领导"),
    ("demo-supervisor", "supervisor", "演示 · 督查室"),
    ("demo-analyst", "analyst", "演示 · 分析员"),
    ("demo-admin", "admin", "演示 · 管理员"),
)


def _engine():
    from queries.engine import check_connection, make_engine
    from queries.migrate import upgrade

    engine = make_engine()
    check_connection(engine)
    upgrade(engine)  # the account tables come with the schema
    return engine


def _password(args: argparse.Namespace) -> str:
    if getattr(args, "password_env", None):
        value = os.environ.get(args.password_env)
        if not value:
            raise XiaonengError(f"environment variable {args.password_env} is empty or unset")
        return value
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise XiaonengError("the two passwords differ")
    return first


def _codes(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def _by() -> dict[str, str]:
    """Who changes accounts from the command line, for the audit log: the OS user."""
    return {"by": cli_actor(), "by_role": CLI_ROLE}


def _offer_demo_disable(engine, args: argparse.Namespace) -> None:
    """After a real admin exists: disable the demo accounts (asked, or --disable-demo)."""
    from queries import accounts_store

    demo = [a.username for a in accounts_store.list_accounts(engine) if a.demo and not a.disabled]
    if not demo:
        return
    if args.disable_demo:
        agree = True
    elif sys.stdin.isatty():
        answer = input(f"{len(demo)} demo account(s) with the published password exist "
                       f"({', '.join(demo)}); disable them? [Y/n] ")
        agree = answer.strip().lower() in ("", "y", "yes", "是")
    else:
        agree = False
    if agree:
        done = accounts_store.disable_demo_accounts(engine, **_by())
        print(f"disabled demo accounts: {', '.join(done)}")
    else:
        print(f"warning: demo accounts still enabled ({', '.join(demo)}); they sign in only "
              "with XIAONENG_DEMO=1. Disable them: xiaoneng accounts disable-demo",
              file=sys.stderr)


def cmd_create_admin(args: argparse.Namespace) -> int:
    from queries import accounts_store

    engine = _engine()
    if accounts_store.count_admins(engine) and not args.force:
        raise XiaonengError("an admin account exists already (use `accounts create` or --force)")
    acc = accounts_store.create_account(engine, args.username, "admin", _password(args),
                                        display_name=args.name, **_by())
    print(f"created admin {acc.username}")
    _offer_demo_disable(engine, args)
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from queries import accounts_store

    engine = _engine()
    password = None if args.sso_only else _password(args)
    acc = accounts_store.create_account(
        engine, args.username, args.role, password, display_name=args.name,
        regions=_codes(args.regions), agencies=_codes(args.agencies), email=args.email,
        **_by())
    print(f"created {acc.role} {acc.username}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """One account a line: name, role, state, scope, e-mail, last sign-in, kind, back-off."""
    import datetime as dt

    from queries import accounts_store

    now = dt.datetime.now()
    rows = accounts_store.list_accounts(_engine())
    for a in rows:
        scope = ",".join([*(f"region:{r}" for r in a.regions),
                          *(f"agency:{x}" for x in a.agencies)]) or "-"
        state = "disabled" if a.disabled else "enabled"
        kind = "DEMO" if a.demo else "-"
        blocked = (f"blocked until {a.locked_until:%Y-%m-%d %H:%M:%S}"
                   if a.locked_until and a.locked_until > now else "-")
        print(f"{a.username}\t{a.role}\t{state}\t{scope}\t{a.email or '-'}\t"
              f"{a.last_login_at or '-'}\t{kind}\t{blocked}")
    demo = [a.username for a in rows if a.demo and not a.disabled]
    if demo:
        print(f"DEMO: {len(demo)} enabled demo account(s) with the published password "
              f"{DEMO_PASSWORD!r}; refused unless the server runs with XIAONENG_DEMO=1. "
              "Disable them: xiaoneng accounts disable-demo", file=sys.stderr)
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from queries import accounts_store

    accounts_store.set_disabled(_engine(), args.username, not args.enable, **_by())
    print(f"{'enabled' if args.enable else 'disabled'} {args.username}")
    return 0


def cmd_disable_demo(args: argparse.Namespace) -> int:
    from queries import accounts_store

    done = accounts_store.disable_demo_accounts(_engine(), **_by())
    print(f"disabled demo accounts: {', '.join(done)}" if done else "no enabled demo accounts")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from queries import accounts_store

    accounts_store.set_password(_engine(), args.username, _password(args), **_by())
    print(f"password set for {args.username}")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from queries import accounts_store

    had = accounts_store.unlock(_engine(), args.username, **_by())
    print(f"unlocked {args.username}" + ("" if had else " (it had no failed sign-ins)"))
    return 0


def ensure_demo_accounts(engine, unit_region: str | None = None) -> list[str]:
    """Create the demo accounts that are missing (password DEMO_PASSWORD); their names.

    Only in a database created by the demo command (`accounts_store.create_account` refuses
    otherwise); they sign in only on a server run with XIAONENG_DEMO=1.
    """
    from queries import accounts_store, extracts

    if not accounts_store.is_demo_database(engine):
        raise XiaonengError("this database was not created by the demo command; demo accounts "
                            "(published password) exist only there (scripts/demo.sh)")
    made = []
    if unit_region is None:
        regions = extracts.load_regions(engine)
        counties = regions.filter(regions["level"] == "county")["region_code"].to_list()
        unit_region = counties[0] if counties else None
    specs = [(u, r, n, ()) for u, r, n in DEMO_ACCOUNTS]
    if unit_region:
        specs.append(("demo-county", "unit", "演示 · 县区用户", (unit_region,)))
    for username, role, name, regions in specs:
        if accounts_store.get_account(engine, username) is None:
            accounts_store.create_account(engine, username, role, DEMO_PASSWORD,
                                          display_name=name, regions=regions, demo=True,
                                          **_by())
            made.append(username)
    return made


def cmd_demo(args: argparse.Namespace) -> int:
    made = ensure_demo_accounts(_engine())
    print(f"demo accounts ready (password {DEMO_PASSWORD!r}; they sign in only with "
          "XIAONENG_DEMO=1)" + (f": created {', '.join(made)}" if made else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("accounts", help="dashboard accounts: create, list, disable")
    asub = p.add_subparsers(dest="accounts_cmd", required=True)

    def pw(s):
        s.add_argument("--password-env", metavar="VAR",
                       help="read the password from this environment variable (else prompt)")

    s = asub.add_parser("create-admin", help="create the first admin account")
    s.add_argument("username")
    s.add_argument("--name", help="display name")
    s.add_argument("--force", action="store_true", help="even if an admin exists")
    s.add_argument("--disable-demo", action="store_true",
                   help="disable the demo accounts without asking")
    pw(s)
    s.set_defaults(handler=cmd_create_admin)

    s = asub.add_parser("create", help="create an account")
    s.add_argument("username")
    s.add_argument("--role", required=True,
                   choices=["leader", "supervisor", "analyst", "unit", "admin"])
    s.add_argument("--name", help="display name")
    s.add_argument("--regions", help="unit users and county supervisors: comma-separated "
                                     "region codes (subtrees)")
    s.add_argument("--agencies", help="unit users: comma-separated agency codes")
    s.add_argument("--email", help="identity for single sign-on (st.login)")
    s.add_argument("--sso-only", action="store_true", help="no password: single sign-on only")
    pw(s)
    s.set_defaults(handler=cmd_create)

    s = asub.add_parser("list", help="list accounts")
    s.set_defaults(handler=cmd_list)

    s = asub.add_parser("disable", help="disable (or --enable) an account")
    s.add_argument("username")
    s.add_argument("--enable", action="store_true")
    s.set_defaults(handler=cmd_disable)

    s = asub.add_parser("disable-demo", help="disable every demo account (published password)")
    s.set_defaults(handler=cmd_disable_demo)

    s = asub.add_parser("unlock", help="end an account's sign-in back-off (audited)")
    s.add_argument("username")
    s.set_defaults(handler=cmd_unlock)

    s = asub.add_parser("set-password", help="set an account's password (unlocks it)")
    s.add_argument("username")
    pw(s)
    s.set_defaults(handler=cmd_set_password)

    s = asub.add_parser("demo", help="create the demo accounts (one per role; only in a "
                                     "database created by `init-db --demo`)")
    s.set_defaults(handler=cmd_demo)
