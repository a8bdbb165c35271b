"""Runs killed mid-way: a `running` import or metric job whose process is gone is `interrupted`.

Why: a load or job records itself as `running` before it starts and its outcome when it ends.
A process killed with SIGKILL (or a machine that lost power) never writes the outcome, and the
row said `running` forever — on 数据管理 and to anyone asking whether a load is in progress. So
every run records who runs it (`holder`), and every new load or job first looks at the rows
still `running` and marks those whose holder is gone `interrupted` (`mark_interrupted`).

How "gone" is told, without a heartbeat (a heartbeat write would wait behind SQLite's single
writer during a long load):

- PostgreSQL: the run holds a session advisory lock, keyed by its id, on a connection of its
  own until it ends (`hold` / `release`). The server drops the lock when that connection's
  process dies, on whatever machine it ran; a checker that can take the lock knows the
  holder is gone.
- SQLite (one machine by nature): the holder is "host/boot:pid:start", the process's start
  time from /proc where there is one. The run is gone when that process no longer exists on
  this host (or the host rebooted); a run of another host is left alone.

Rows written before holders were recorded (`holder` null) cannot belong to a live run of this
version and are marked interrupted too.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import zlib
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from queries import schema

LOCK_CLASS = 0x786E  # first key of the advisory locks of runs ("xn")
_held: dict[str, Connection] = {}


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "-"


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or '-' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-"
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return stat.rsplit(")", 1)[1].split()[19]


def holder_token(pid: int | None = None) -> str:
    """Who runs it: 'host/boot:pid:start' of this (or the given) process."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{_boot_id()}:{pid}:{_process_start(pid)}"


def _alive_locally(holder: str) -> bool | None:
    """Whether the holder's process still runs; None when it ran on another host."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3:
        return False  # not a holder this version writes
    host_boot, pid_text, start = parts
    host, _, boot = host_boot.rpartition("/")
    if host != socket.gethostname():
        return None
    if boot != _boot_id():
        return False  # the machine restarted since
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True  # exists (owned by someone else) or unreadable: assume alive
    return start == "-" or _process_start(pid) == start


def _lock_key(run_id: str) -> int:
    return zlib.crc32(run_id.encode()) - (1 << 31)  # a signed 32-bit key


def hold(engine: Engine, run_id: str) -> str:
    """Mark this process as the holder of `run_id`; returns the holder text to store.

    On PostgreSQL a session advisory lock is taken on a connection kept until `release`."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        conn.execute(sa.text("SELECT pg_advisory_lock(:c, :k)"),
                     {"c": LOCK_CLASS, "k": _lock_key(run_id)})
        conn.commit()
        _held[run_id] = conn
    return holder_token()


def release(run_id: str) -> None:
    """End holding `run_id` (safe to call twice, or for a run never held)."""
    conn = _held.pop(run_id, None)
    if conn is None:
        return
    try:
        conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"),
                     {"c": LOCK_CLASS, "k": _lock_key(run_id)})
        conn.commit()
    finally:
        conn.close()


def _gone(engine: Engine, conn: Connection, run_id: str, holder: str | None) -> bool:
    if holder is None:
        return True
    if run_id in _held:
        return False
    if engine.dialect.name == "postgresql":
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:c, :k)"),
                           {"c": LOCK_CLASS, "k": _lock_key(run_id)}).scalar_one()
        if got:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"),
                         {"c": LOCK_CLASS, "k": _lock_key(run_id)})
        return bool(got)
    return _alive_locally(holder) is False


def mark_interrupted(engine: Engine) -> list[str]:
    """Mark `running` loads and jobs whose process is gone as `interrupted`; their ids."""
    now = dt.datetime.now().replace(microsecond=0)
    found: list[str] = []
    with engine.connect() as conn:
        for table, id_col in ((schema.load_runs, "load_id"), (schema.job_runs, "run_id")):
            running = conn.execute(
                sa.select(table.c[id_col], table.c.holder, table.c.started_at)
                .where(table.c.status == "running")
            ).all()
            for run_id, holder, started in running:
                if not _gone(engine, conn, run_id, holder):
                    continue
                conn.execute(
                    sa.update(table).where(table.c[id_col] == run_id,
                                           table.c.status == "running")
                    .values(status="interrupted", error=(
                        f"interrupted: the process running it (started {started:%Y-%m-%d %H:%M:%S})"
                        f" ended before it finished (killed or crashed); nothing it did was "
                        f"kept. Detected {now:%Y-%m-%d %H:%M:%S}."))
                )
                found.append(run_id)
        conn.commit()
    return found
