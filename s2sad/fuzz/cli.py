"""``python -m s2sad.fuzz``: generate programs, check every derivative mode, summarise.

    python -m s2sad.fuzz --seed 1 --count 2000 --shrink    # a run; failures shrunk and printed
    python -m s2sad.fuzz --seed 1 --index 17 --show         # one program and its report

The summary gives the count of each outcome, the refusals by construct, how often
each construct was drawn, and the ``--seed``/``--index`` of every failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

from .generate import generate
from .runner import OUTCOMES, Report, Runner
from .shrink import shrink

FAILURES = ("crash", "mismatch", "false_refusal", "timeout")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m s2sad.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    p.add_argument("--count", type=int, default=100, help="how many programs (default 100)")
    p.add_argument("--start", type=int, default=0, help="the first program's index (default 0)")
    p.add_argument("--index", type=int, help="run only program INDEX of the seed")
    p.add_argument("--show", action="store_true", help="print each program's source with its report")
    p.add_argument("--shrink", action="store_true", help="shrink each failure to a minimal program and print it")
    p.add_argument("--out", metavar="DIR", help="write each failing program (and its shrunk form) to DIR")
    p.add_argument("--higher-order", type=float, default=0.3, metavar="P",
                   help="fraction of scalar programs also checked in second order (default 0.3)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds allowed per program (default 30)")
    p.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    indices = [args.index] if args.index is not None else range(args.start, args.start + args.count)
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    coverage: Counter[str] = Counter()
    failures = []
    started = time.monotonic()
    with Runner(timeout=args.timeout, higher_order=args.higher_order) as runner:
        for n, index in enumerate(indices):
            program = generate(args.seed, index)
            report = runner.run(program, higher_order=True if args.index is not None else None)
            outcomes[report.outcome] += 1
            coverage.update(program.tags)
            refusals.update(f.key for f in report.findings if f.outcome in ("refused", "false_refusal"))
            if args.show:
                print(program.source)
                print(f"# args: {program.args!r}")
            if report.outcome in FAILURES:
                failures.append(report)
                _failure(runner, report, args)
            elif args.show:
                print("\n".join(report.lines()))
            if not args.quiet and not args.show:
                _progress(n + 1, len(indices), outcomes, started)
    _summary(outcomes, refusals, coverage, failures, time.monotonic() - started)
    return 1 if failures else 0


def _failure(runner: Runner, report: Report, args: argparse.Namespace) -> None:
    """Print (and write, and shrink, as asked) one failing program."""
    if not args.quiet:
        print("\n" + "\n".join(report.lines()), flush=True)
    small = shrink(runner, report) if args.shrink else None
    if small is not None and not args.quiet:
        print(f"# shrunk ({small.source.count(chr(10))} lines), args {small.args!r}:\n{small.source}", flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        stem = os.path.join(args.out, f"seed{report.program.seed}_index{report.program.index}_{report.outcome}")
        header = "".join(f"# {line}\n" for line in report.lines()) + f"# args = {report.program.args!r}\n"
        for suffix, program in (("", report.program), ("_shrunk", small)):
            if program is not None:
                with open(stem + suffix + ".py", "w") as fh:
                    fh.write(header + program.source)


def _progress(done: int, total: int, outcomes: Counter, started: float) -> None:
    if done % 50 == 0 or done == total:
        counts = " ".join(f"{k}={outcomes[k]}" for k in OUTCOMES if outcomes[k])
        print(f"[{done}/{total}] {time.monotonic() - started:.0f} s  {counts}", file=sys.stderr, flush=True)


def _summary(outcomes: Counter, refusals: Counter, coverage: Counter, failures: list, seconds: float) -> None:
    total = sum(outcomes.values())
    print(f"\n== {total} programs in {seconds:.0f} s")
    for k in OUTCOMES:
        print(f"  {k:14} {outcomes[k]}")
    if refusals:
        print("\n== refusals by construct (checks refused, over all modes)")
        for key, n in refusals.most_common():
            print(f"  {n:6}  {key}")
    print("\n== constructs drawn")
    for key, n in sorted(coverage.items()):
        print(f"  {n:6}  {key}")
    if failures:
        print("\n== failures (reproduce with python -m s2sad.fuzz <args> --show)")
        for report in failures:
            first = next((f for f in report.findings if f.outcome == report.outcome), None)
            what = f"{first.mode}: {first.detail[:140]}" if first else ""
            print(f"  {report.program.label}  {report.outcome:13} {what}")
