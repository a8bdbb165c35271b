"""Errors the product reports to a user as one clear line (the CLI prints them without a traceback)."""


class XiaonengError(Exception):
    """A problem the user can act on: bad input, bad configuration, unreachable database."""


class ImportRejected(XiaonengError):
    """A whole file was refused (unreadable, wrong encoding, missing key column, …)."""


def escaped(text: str) -> str:
    """`text` with control characters (line breaks, NUL, \\x1f …) written as \\xNN, so that a
    message that quotes a user's value stays one readable line."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in text)
