"""`xiaoneng accounts create-admin|create|list|disable|enable|set-password|demo`.

Passwords are read from the prompt (twice, not echoed) or from an environment variable named
with --password-env (for scripts); never from the command line, where they would land in the
shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os

from queries.errors import XiaonengError

DEMO_PASSWORD = "xiaoneng-demo"  # shown on the login page only when XIAONENG_DEMO=1
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


def cmd_create_admin(args: argparse.Namespace) -> int:
    from queries import accounts_store

    engine = _engine()
    if accounts_store.count_admins(engine) and not args.force:
        raise XiaonengError("an admin account exists already (use `accounts create` or --force)")
    acc = accounts_store.create_account(engine, args.username, "admin", _password(args),
                                        display_name=args.name, by="cli:create-admin")
    print(f"created admin {acc.username}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from queries import accounts_store

    engine = _engine()
    password = None if args.sso_only else _password(args)
    acc = accounts_store.create_account(
        engine, args.username, args.role, password, display_name=args.name,
        regions=_codes(args.regions), agencies=_codes(args.agencies), email=args.email,
        by="cli")
    print(f"created {acc.role} {acc.username}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from queries import accounts_store

    for a in accounts_store.list_accounts(_engine()):
        scope = ",".join([*(f"region:{r}" for r in a.regions),
                          *(f"agency:{x}" for x in a.agencies)]) or "-"
        state = "disabled" if a.disabled else "enabled"
        print(f"{a.username}\t{a.role}\t{state}\t{scope}\t{a.email or '-'}\t"
              f"{a.last_login_at or '-'}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from queries import accounts_store

    accounts_store.set_disabled(_engine(), args.username, not args.enable, by="cli")
    print(f"{'enabled' if args.enable else 'disabled'} {args.username}")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from queries import accounts_store

    accounts_store.set_password(_engine(), args.username, _password(args), by="cli")
    print(f"password set for {args.username}")
    return 0


def ensure_demo_accounts(engine, unit_region: str | None = None) -> list[str]:
    """Create the demo accounts that are missing (password DEMO_PASSWORD); their names."""
    from queries import accounts_store, extracts

    made = []
    specs = list(DEMO_ACCOUNTS)
    if unit_region is None:
        regions = extracts.load_regions(engine)
        counties = regions.filter(regions["level"] == "county")["region_code"].to_list()
        unit_region = counties[0] if counties else None
    for username, role, name in specs:
        if accounts_store.get_account(engine, username) is None:
            accounts_store.create_account(engine, username, role, DEMO_PASSWORD,
                                          display_name=name, by="cli:demo")
            made.append(username)
    if unit_region and accounts_store.get_account(engine, "demo-county") is None:
        accounts_store.create_account(engine, "demo-county", "unit", DEMO_PASSWORD,
                                      display_name="演示 · 县区用户", regions=[unit_region],
                                      by="cli:demo")
        made.append("demo-county")
    return made


def cmd_demo(args: argparse.Namespace) -> int:
    made = ensure_demo_accounts(_engine())
    print(f"demo accounts ready (password {DEMO_PASSWORD!r})"
          + (f": created {', '.join(made)}" if made else ""))
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
    pw(s)
    s.set_defaults(handler=cmd_create_admin)

    s = asub.add_parser("create", help="create an account")
    s.add_argument("username")
    s.add_argument("--role", required=True,
                   choices=["leader", "supervisor", "analyst", "unit", "admin"])
    s.add_argument("--name", help="display name")
    s.add_argument("--regions", help="unit users: comma-separated region codes (subtrees)")
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

    s = asub.add_parser("set-password", help="set an account's password (unlocks it)")
    s.add_argument("username")
    pw(s)
    s.set_defaults(handler=cmd_set_password)

    s = asub.add_parser("demo", help="create the demo accounts (one per role)")
    s.set_defaults(handler=cmd_demo)
