"""Redraw a saved run's peers figure with the current plotting code.

Reads ``results.csv`` and ``results.json`` (its ``peers``) from a ``fastnn bench --peers``
run folder and writes the figure the report would draw now (a panel per op and dtype)::

    python benchmarks/peer_figure.py reports/peers-race reports/peers-race/peers_by_dtype.png

An existing output file is not overwritten without ``--force``; the PNG is written to a
temporary file first and moved into place.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from fastnn.bench.peers.report import FIGURE, peer_figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a fastnn bench --peers run folder")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists: pass --force to overwrite it")
    frame = pd.read_csv(args.run / "results.csv")
    peers = json.loads((args.run / "results.json").read_text()).get("peers") or {}
    figures = peer_figures(frame, {"peers": peers})
    if FIGURE not in figures:
        parser.error(f"{args.run} has no timed peer rows")
    partial = args.out.with_name(args.out.name + ".partial")
    figures[FIGURE].savefig(partial, dpi=100, format="png")
    os.replace(partial, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
