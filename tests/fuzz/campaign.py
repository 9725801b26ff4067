"""What the Python fuzz campaigns (fuzz_wasm.py, fuzz_shards.py) share: the
case loop (each case seeded ``[seed, case]`` so it can be rerun alone), the
tail of the summary and the command line.

A campaign subclasses :class:`Campaign` and defines ``run_case(rng)`` and
``summary_lines(seconds)``; it records failures in ``self.failures`` (and
saves their inputs in ``self.save_dir``).
"""

import argparse
import collections
import itertools
import time
import traceback

import numpy as np

MAX_HARNESS_ERRORS = 20  # a broken harness stops, it does not fill the log


class Campaign:
    name = "fuzz"
    harness_errors = "harness exceptions"  # the counter of the script's own bugs

    def __init__(self, seed, save_dir=None):
        self.seed, self.save_dir = seed, save_dir
        self.counts = collections.Counter()
        self.failures = []
        self.case = None

    def run(self, seconds, only_case=None):
        """Runs cases for *seconds* (or only case *only_case*); returns the
        time taken. An exception out of a case is a bug of the script: it is
        reported with its traceback and the campaign goes on."""
        start, errors = time.monotonic(), 0
        for case in [only_case] if only_case is not None else itertools.count():
            if only_case is None and time.monotonic() - start >= seconds:
                break
            self.case = case
            try:
                self.run_case(np.random.default_rng([self.seed, case]))
                self.counts["cases"] += 1
            except Exception:  # noqa: BLE001 - a bug of this script: report it, go on
                errors += 1
                self.failures.append(f"case {case}: {self.harness_errors[:-1]} "
                                     "(traceback above)")
                traceback.print_exc()
                if errors > MAX_HARNESS_ERRORS:
                    break
        self.counts[self.harness_errors] = errors
        return time.monotonic() - start

    def summary(self, seconds):
        lines = self.summary_lines(seconds)
        lines += ["  " + f for f in self.failures[:8]]
        if self.failures:
            lines.append(f"inputs saved in {self.save_dir}")
        return lines + ["FAIL" if self.failures else "PASS"]


def main(make, argv=None, doc="", save_help="where to write failing inputs", extra=()):
    """The command line of a campaign: ``--seconds --seed --save --case``
    plus *extra* ``(flags, kwargs)`` arguments; *make(args)* builds the
    campaign. Prints the summary; returns 1 on any failure."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (60)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (1)")
    parser.add_argument("--save", default=None, metavar="DIR",
                        help=f"{save_help} (default: a new temp dir)")
    parser.add_argument("--case", type=int, default=None,
                        help="run only this case of --seed (to reproduce a failure)")
    for flags, kwargs in extra:
        parser.add_argument(*flags, **kwargs)
    args = parser.parse_args(argv)
    campaign = make(args)
    elapsed = campaign.run(args.seconds, args.case)
    print("\n".join(campaign.summary(elapsed)))
    return 1 if campaign.failures else 0
