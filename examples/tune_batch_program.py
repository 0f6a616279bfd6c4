#!/usr/bin/env python3
"""A batch program for `batchwise tune --cmd` (protocol: docs/tune.md).

Stands in for a vision model's batched inference (seed 001's ResNet/ViT/YOLO): a batch is one call,
every call pays a fixed cost (a kernel launch / host-device transfer in the real thing, --overhead-ms
here) and writes every item's activations. So items/s grows with the batch until the work per call
dominates, and memory grows with the batch: every item holds --item-mb at once. Past --max-mb of
working memory (or the env var TUNE_EXAMPLE_MAX_MB) its allocations really fail: the address space is
capped with setrlimit, so Python raises MemoryError, which is printed as "out of memory" on stderr with
exit status 1. Standard library only: a plain python3 runs it.

Prints one line on stdout: {"items": N, "seconds": S} for the timed calls (one warm-up call excluded).
"""
import argparse
import json
import os
import resource
import sys
import time


def address_space_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, required=True, help="items per call")
    p.add_argument("--item-mb", type=float, default=2.0, help="working memory per item, MiB (default 2)")
    p.add_argument("--max-mb", type=float, default=float(os.environ.get("TUNE_EXAMPLE_MAX_MB", "0")),
                   help="working memory the program may allocate, MiB; 0: no cap (default: $TUNE_EXAMPLE_MAX_MB or 0)")
    p.add_argument("--overhead-ms", type=float, default=20.0, help="fixed cost per call, ms (default 20)")
    p.add_argument("--calls", type=int, default=3, help="timed calls (default 3)")
    a = p.parse_args()
    if a.batch < 1:
        print("--batch must be >= 1", file=sys.stderr)
        return 2
    if a.max_mb > 0:
        cap = address_space_bytes() + int(a.max_mb * 1048576)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    item_bytes = max(1, int(a.item_mb * 1048576))
    try:
        def call():
            # Every byte written (a repeated byte, not calloc's untouched zero pages), so the memory is really used;
            # reading one byte per item is the "work" (cheap: the fixed cost dominates).
            x = bytearray(b"\x01") * (a.batch * item_bytes)
            checksum = sum(x[::item_bytes])
            time.sleep(a.overhead_ms / 1000.0)
            return checksum

        call()  # warm-up: first-touch page faults are not measured
        start = time.perf_counter()
        for _ in range(a.calls):
            call()
        seconds = time.perf_counter() - start
    except MemoryError:
        print(f"out of memory: batch {a.batch} needs about {a.batch * a.item_mb:.0f} MiB, over --max-mb {a.max_mb:.0f}",
              file=sys.stderr)
        return 1
    print(json.dumps({"items": a.batch * a.calls, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
