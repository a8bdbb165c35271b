"""Load test: N concurrent dashboard sessions browsing pages of a running `xiaoneng serve`.

Each session is a WebSocket client speaking Streamlit's own protocol (the BackMsg/ForwardMsg
protobufs), as a browser tab does: it asks for a page (a rerun with that page's name), waits
for the server's "script finished" message and records the time, then goes to the next page.
A page counts as an error when the run did not finish normally, the page was not found, or it
drew an exception or an error box. Sessions start staggered and stop by themselves at the time
limit or the request limit, whichever comes first.

Loopback only: the target must be 127.0.0.1 / localhost (this is not a tool to load someone
else's server). The server must let the sessions in without a login form, i.e. it runs the demo
sign-in (`XIAONENG_DEMO=1 xiaoneng serve`, as scripts/demo.sh does) — so point it at demo data.

    XIAONENG_DEMO=1 DATABASE_URL=... xiaoneng serve --port 8765 &
    python bench/bench_load.py --port 8765 --sessions 20 --seconds 60

Prints the median and P95 page time per page and overall, and the error count.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

PAGES = ("overview", "timeliness", "online", "cards", "reviews", "business_env", "drilldown")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    messages: list[str] = field(default_factory=list)


def _page_request(page: str) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    msg.rerun_script.page_name = "" if page == "overview" else page
    return msg.SerializeToString()


def _inspect(raw: bytes) -> tuple[bool, str | None]:
    """(finished, problem) for one server message."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    fm = ForwardMsg()
    fm.ParseFromString(raw)
    kind = fm.WhichOneof("type")
    if kind == "script_finished":
        if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return False, None  # the app reran itself (e.g. the shell taking over): wait on
        ok = fm.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY,
                                    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
        return True, None if ok else f"script_finished={fm.script_finished}"
    if kind == "page_not_found":
        return False, "page not found"
    if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
        el = fm.delta.new_element
        which = el.WhichOneof("type")
        if which == "exception":
            return False, f"exception: {el.exception.message[:200]}"
        if which == "alert" and el.alert.format == el.alert.ERROR:
            return False, f"error box: {el.alert.body[:200]}"
    return False, None


async def _request(ws, page: str, deadline: float) -> str | None:
    """Ask for a page and read until its run finished; the first problem seen (or None)."""
    await ws.send(_page_request(page))
    problem = None
    while True:
        remaining = max(1.0, deadline - time.monotonic() + 120)
        raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
        if isinstance(raw, str):
            continue
        finished, p = _inspect(raw)
        problem = problem or p
        if finished:
            return problem


async def _session(i: int, url: str, deadline: float, max_requests: int, stagger: float,
                   res: Results, budget: list[int]) -> None:
    import websockets

    await asyncio.sleep(stagger * i)
    async with websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                  open_timeout=30, ping_interval=None) as ws:
        await _request(ws, "overview", deadline)  # a new tab opens the home page (untimed)
        k = i  # each session then starts on a different page
        while time.monotonic() < deadline and budget[0] < max_requests:
            budget[0] += 1
            page = PAGES[k % len(PAGES)]
            k += 1
            t0 = time.perf_counter()
            problem = await _request(ws, page, deadline)
            elapsed = time.perf_counter() - t0
            res.times[page].append(elapsed)
            if problem:
                res.errors[page] += 1
                if len(res.messages) < 20:
                    res.messages.append(f"session {i} {page}: {problem}")


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def run(host: str, port: int, sessions: int, seconds: float, max_requests: int,
              stagger: float) -> Results:
    url = f"ws://{host}:{port}/_stcore/stream"
    res = Results()
    deadline = time.monotonic() + seconds
    budget = [0]
    tasks = [_session(i, url, deadline, max_requests, stagger, res, budget)
             for i in range(sessions)]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for i, out in enumerate(outcomes):
        if isinstance(out, BaseException):
            res.errors["<session>"] += 1
            res.messages.append(f"session {i} failed: {type(out).__name__}: {out}")
    return res


def report(res: Results, sessions: int, seconds: float) -> str:
    lines = [f"{sessions} sessions, {seconds:.0f} s limit",
             f"{'page':<14}{'n':>6}{'errors':>8}{'median s':>10}{'p95 s':>9}"]
    every: list[float] = []
    for page in PAGES:
        t = res.times.get(page, [])
        every += t
        if t:
            lines.append(f"{page:<14}{len(t):>6}{res.errors.get(page, 0):>8}"
                         f"{statistics.median(t):>10.2f}{_p95(t):>9.2f}")
    total_err = sum(res.errors.values())
    if every:
        lines.append(f"{'all':<14}{len(every):>6}{total_err:>8}"
                     f"{statistics.median(every):>10.2f}{_p95(every):>9.2f}")
    lines += res.messages
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60, help="time limit (max 1800)")
    p.add_argument("--max-requests", type=int, default=2000, help="page requests in all")
    p.add_argument("--stagger", type=float, default=0.25, help="seconds between session starts")
    args = p.parse_args(argv)
    if args.host not in LOOPBACK:
        print("bench_load: loopback targets only (127.0.0.1 / localhost)", file=sys.stderr)
        return 2
    seconds = min(args.seconds, 1800)
    res = asyncio.run(run(args.host, args.port, args.sessions, seconds,
                          min(args.max_requests, 100_000), args.stagger))
    print(report(res, args.sessions, seconds))
    return 1 if sum(res.errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
