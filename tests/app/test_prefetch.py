"""A page's prefetched reads feed its cached functions once, and never another key."""

from __future__ import annotations

import threading

from dashboard import data


def test_a_prefetched_read_is_taken_by_its_key_and_not_computed_again():
    data._forget_prefetches()
    calls: list[str] = []
    started = threading.Event()

    def work() -> str:
        calls.append("prefetch")
        started.set()
        return "from the pool"

    data.prefetch(data.Read(("k", 1), work))
    assert started.wait(5)
    assert data._take(("k", 1), lambda: calls.append("inline") or "inline") == "from the pool"
    assert calls == ["prefetch"]
    # another key (e.g. another user's scope) is computed by its own caller
    assert data._take(("k", 2), lambda: "inline") == "inline"


def test_recently_computed_keys_are_not_prefetched_again_until_invalidated():
    data._forget_prefetches()
    data._take(("warm",), lambda: 1)
    ran: list[int] = []
    data.prefetch(data.Read(("warm",), lambda: ran.append(1)), None)
    assert ("warm",) not in data._PREFETCHED and ran == []
    data._forget_prefetches()
    data.prefetch(data.Read(("warm",), lambda: ran.append(1) or 2))
    assert data._take(("warm",), lambda: 3) == 2 and ran == [1]


def test_a_failed_prefetch_fails_its_caller_like_an_inline_read():
    data._forget_prefetches()

    def boom() -> None:
        raise RuntimeError("database went away")

    data.prefetch(data.Read(("bad",), boom))
    try:
        data._take(("bad",), lambda: "inline")
    except RuntimeError as e:
        assert "went away" in str(e)
    else:
        raise AssertionError("the prefetch's error was swallowed")
