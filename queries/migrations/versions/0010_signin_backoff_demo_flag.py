"""sign-in back-off per account name and per client; demo accounts flagged; the demo-database mark

* `login_throttle` replaces `accounts.failed_logins` / `accounts.locked_until`: one row per
  account name (known or not, so an unknown name behaves like an existing one) and per client,
  with exponential back-off (queries/accounts_store.py).
* `accounts.demo`: an account with the published demo password. Existing accounts whose
  password *is* the published demo password (`xiaoneng-demo`, created by `accounts demo`) are
  flagged here, whatever their name: they are refused unless the server runs with
  XIAONENG_DEMO=1.
* `database_flags`: facts about the database itself; `demo` marks a database created by the
  demo command (`xiaoneng init-db --demo`), the only kind that may hold demo accounts.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PUBLISHED_DEMO_PASSWORD = "xiaoneng-demo"  # as printed by scripts/demo.sh before this revision
ACTIONS = ("login / login_failed / logout / export / preview / settings / calendar / job_run / "
           "import / publish / account")
OLD_ACTIONS = ("login / login_failed / logout / export / settings / calendar / job_run / "
               "import / publish / account")


def _flag_published_passwords() -> None:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = PasswordHasher()
    conn = op.get_bind()
    accounts = sa.table("accounts", sa.column("username", sa.String()),
                        sa.column("password_hash", sa.Text()), sa.column("demo", sa.Boolean()))
    rows = conn.execute(sa.select(accounts.c.username, accounts.c.password_hash)
                        .where(accounts.c.password_hash.is_not(None))).all()
    for username, pw_hash in rows:
        try:
            hasher.verify(pw_hash, PUBLISHED_DEMO_PASSWORD)
        except (VerificationError, InvalidHashError):
            continue
        conn.execute(sa.update(accounts).where(accounts.c.username == username)
                     .values(demo=True))


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=300), nullable=False,
                  comment="account:NAME or client:ADDRESS"),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False,
                  comment="failed sign-ins in a row"),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        comment="sign-in back-off per account name and per client",
    )
    op.create_table(
        "database_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        comment="facts about this database (demo: created by the demo command)",
    )
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column(
            "demo", sa.Boolean(), server_default=sa.false(), nullable=False,
            comment="demo account (published password): refused unless XIAONENG_DEMO=1"))
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")
    _flag_published_passwords()
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no column comments
        op.alter_column("audit_log", "action", existing_type=sa.String(length=40),
                        existing_nullable=False, comment=ACTIONS, existing_comment=OLD_ACTIONS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_log", "action", existing_type=sa.String(length=40),
                        existing_nullable=False, comment=OLD_ACTIONS, existing_comment=ACTIONS)
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch.drop_column("demo")
    op.drop_table("database_flags")
    op.drop_table("login_throttle")
