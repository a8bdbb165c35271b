"""`xiaoneng serve`: start the Streamlit app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def cmd_serve(args: argparse.Namespace) -> int:
    from streamlit.web import cli as stcli

    os.chdir(APP.parent)  # .streamlit/config.toml is read from the working directory
    sys.argv = ["streamlit", "run", str(APP), "--server.port", str(args.port),
                "--server.address", args.address]
    return stcli.main()


def register(sub) -> None:
    s = sub.add_parser("serve", help="start the dashboard")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--address", default="127.0.0.1")
    s.set_defaults(handler=cmd_serve)
