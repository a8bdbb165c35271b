"""`xiaoneng serve`: start the Streamlit app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


# The statistics fit small models (a GLM, a Cox model) per request: with OpenBLAS's own thread
# pool on a 2-core server shared by many sessions, each small matrix step waits for threads
# (measured: a Cholesky step 3 ms → 80–110 ms, the 单位分析 page 1.3 s → 2.6 s at 2M cases).
# One BLAS thread per request; concurrency comes from the sessions. Set before numpy loads
# (streamlit imports it); an operator's own setting wins.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cmd_serve(args: argparse.Namespace) -> int:
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")
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
