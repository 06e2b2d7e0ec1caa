#!/usr/bin/env python3
"""What the cosine filter's tests saw, attackers against honest clients.

Reads the debug log of an `fl simulate --robust cosine-filter` run (run with
`fedsign --log-level debug ...`; one line per client and round: its cosine with the round's
median, its output layer's cosine with the median's, its label recall on the root set, and
whether it was dropped) and the run's attackers.json, and prints, per block of rounds and for
honest clients and attackers apart: how many updates, the median of each score, the share at or
below 0 (cosines) and how many were dropped; then who was caught for good (first drop).

    scripts/cosine_filter_scores.py RUN.log RUN_DIR [--block 10]
"""
import argparse
import json
import re
import statistics
from pathlib import Path

LINE = re.compile(r"cosine filter \(round (\d+)\): client (\d+) cosine (\S+)"
                  r"(?: output layer (\S+))?(?: label recall (\S+)(?: of (\d+))?)?( dropped)?$")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("run_dir")
    parser.add_argument("--block", type=int, default=10, help="rounds per row")
    args = parser.parse_args()

    attackers_file = Path(args.run_dir) / "attackers.json"
    attackers = set(json.loads(attackers_file.read_text())["attackers"]) \
        if attackers_file.exists() else set()
    rows = {}
    first_drop = {}
    with open(args.log, encoding="utf-8") as log:
        for line in log:
            m = LINE.search(line)
            if not m:
                continue
            rnd, client = int(m[1]), int(m[2])
            # A test that did not run (its flag not given) has no score: None.
            head = float(m[4]) if m[4] else None
            recall = float(m[5]) if m[5] else None
            images = int(m[6]) if m[6] else None  # the root images behind the recall
            whole, dropped = float(m[3]), bool(m[7])
            key = ((rnd - 1) // args.block, client in attackers)
            rows.setdefault(key, []).append((whole, head, recall, dropped, images))
            if dropped and client not in first_drop:
                first_drop[client] = rnd
    if not rows:
        raise SystemExit(f"{args.log}: no cosine-filter debug lines (run with --log-level debug)")

    print("| rounds | clients | updates | cosine median | cosine <= 0 | output layer median "
          "| output layer <= 0 | label recall median | its root images, median | dropped "
          "| root images of the dropped, median |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (block, is_attacker) in sorted(rows):
        v = rows[(block, is_attacker)]
        first, last = block * args.block + 1, (block + 1) * args.block
        med = lambda i: "-" if v[0][i] is None else f"{statistics.median(x[i] for x in v):.3f}"
        neg = lambda i: "-" if v[0][i] is None else str(sum(x[i] <= 0 for x in v))
        dropped_images = [x[4] for x in v if x[3] and x[4] is not None]
        dropped_med = f"{statistics.median(dropped_images):.0f}" if dropped_images else "-"
        images = "-" if v[0][4] is None else f"{statistics.median(x[4] for x in v):.0f}"
        print(f"| {first}-{last} | {'attackers' if is_attacker else 'honest'} | {len(v)} "
              f"| {med(0)} | {neg(0)} | {med(1)} | {neg(1)} | {med(2)} | {images} "
              f"| {sum(x[3] for x in v)} | {dropped_med} |")
    caught_attackers = sorted(c for c in first_drop if c in attackers)
    caught_honest = sorted(c for c in first_drop if c not in attackers)
    print(f"\ndropped at least once: {len(caught_attackers)} of {len(attackers)} attackers, "
          f"{len(caught_honest)} honest clients (first drops in rounds "
          f"{sorted(first_drop[c] for c in caught_honest)})")


if __name__ == "__main__":
    main()
