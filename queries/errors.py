"""Errors the product reports to a user as one clear line (the CLI prints them without a traceback)."""


class XiaonengError(Exception):
    """A problem the user can act on: bad input, bad configuration, unreachable database."""


class ImportRejected(XiaonengError):
    """A whole file was refused (unreadable, wrong encoding, missing key column, …)."""
