#!/usr/bin/env python3
"""What the cosine filter's tests saw, attackers against honest clients.

Reads the debug log of an `fl simulate --robust cosine-filter` run (run with
`fedsign --log-level debug ...`; one line per client and round: its cosine with the round's
median, its output layer's cosine with the median's, its label recall on the root set, and
whether it was dropped) and the run's attackers.json, and prints, per block of rounds and for
honest clients and attackers apart: how many updates, the median of each score, the share at or
below 0 (cosines) and how many were dropped; then who was caught for good (first drop).

    scripts/cosine_filter_scores.py RUN.log RUN_DIR [--block 10] [--memory --label-test 0.5]

With --memory it also replays the server's memory (--cosine-memory) over the logged drops: for
1, 2 and 3 strikes, counting the drops of any test or of the label test alone
(--cosine-strikes-from), how many attackers and honest clients it would have kept out, and when.
A replay, not a rerun: the drops are the logged run's, whose model was shaped by its own memory.
The label test's drops are the updates whose label recall is below --label-test times the
round's median (its rule, robust_rules.cpp low_outliers).
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
    parser.add_argument("--memory", action="store_true",
                        help="replay the memory's strike rules over the logged drops")
    parser.add_argument("--label-test", type=float, default=0.5,
                        help="the run's --label-test ratio (for --memory)")
    args = parser.parse_args()

    attackers_file = Path(args.run_dir) / "attackers.json"
    attackers = set(json.loads(attackers_file.read_text())["attackers"]) \
        if attackers_file.exists() else set()
    rows = {}
    first_drop = {}
    events = []  # (round, client, dropped, label recall) in log order, for --memory
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
            events.append((rnd, client, dropped, recall))
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
    if args.memory:
        replay_memory(events, attackers, args.label_test)


def label_test_drops(events, ratio):
    """Per event, whether the label test dropped it: recall below ratio x its round's median."""
    by_round = {}
    for rnd, _, _, recall in events:
        if recall is not None:
            by_round.setdefault(rnd, []).append(recall)
    medians = {rnd: statistics.median(v) for rnd, v in by_round.items()}
    return [recall is not None and recall < ratio * medians[rnd]
            for rnd, _, _, recall in events]


def replay_memory(events, attackers, ratio):
    label_dropped = label_test_drops(events, ratio)
    if not any(r is not None for *_, r in events):
        print("\n(no label recall in the log: the label test did not run)")
    last_round = max(e[0] for e in events)
    print(f"\n| memory (replayed over the logged drops) | attackers kept out | their median round "
          f"| honest clients kept out | of them after round {last_round // 4} |")
    print("|---|---:|---:|---:|---:|")
    for counted in ("any", "label"):
        for strikes in (1, 2, 3):
            drops, caught = {}, {}
            for (rnd, client, dropped, _), by_label in zip(events, label_dropped):
                if client in caught:
                    continue
                if by_label if counted == "label" else dropped:
                    drops[client] = drops.get(client, 0) + 1
                    if drops[client] >= strikes:
                        caught[client] = rnd
            bad = sorted(r for c, r in caught.items() if c in attackers)
            honest = [r for c, r in caught.items() if c not in attackers]
            median = bad[len(bad) // 2] if bad else "-"
            print(f"| {strikes} strike{'s' if strikes > 1 else ''}, drops of "
                  f"{'any test' if counted == 'any' else 'the label test'} | {len(bad)} of "
                  f"{len(attackers)} | {median} | {len(honest)} "
                  f"| {sum(r > last_round // 4 for r in honest)} |")


if __name__ == "__main__":
    main()
