"""facet 0.10.1's BlockingServiceMixin, timed like lifecycle-bench's blocking cases.

Run it inside a virtual environment that has facet (see BENCHMARKS.md):
    python3 -m venv /tmp/facetenv && /tmp/facetenv/bin/pip install facet==0.10.1
    /tmp/facetenv/bin/python Benchmarks/facet/facet_bench.py --sizes 1000,10000
Prints one line per case: shape, N, median nanoseconds per service (start + stop).
"""

import argparse
import statistics
import sys
import time

from facet import BlockingServiceMixin


class Leaf(BlockingServiceMixin):
    """A trivial service: start and stop do nothing."""


class Wide(BlockingServiceMixin):
    """A root with N sequential dependencies."""

    def __init__(self, n: int) -> None:
        self._dependencies = [Leaf() for _ in range(n)]

    @property
    def dependencies(self):
        return self._dependencies


class Link(BlockingServiceMixin):
    """One level of a chain: it depends on the next."""

    def __init__(self, next_link) -> None:
        self._dependencies = [] if next_link is None else [next_link]

    @property
    def dependencies(self):
        return self._dependencies


def make(shape: str, n: int) -> BlockingServiceMixin:
    if shape == "wide":
        return Wide(n)
    link = None
    for _ in range(n):
        link = Link(link)
    return link


def measure(shape: str, n: int) -> float:
    repetitions = max(5, min(200, 200_000 // n))
    make(shape, n).__enter__().__exit__()  # warm up
    samples = []
    for _ in range(repetitions):
        root = make(shape, n)
        began = time.perf_counter_ns()
        root.__enter__()
        root.__exit__(None, None, None)
        samples.append(time.perf_counter_ns() - began)
    return statistics.median(samples) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    arguments = parser.parse_args()
    sys.setrecursionlimit(1_000_000)  # the mixin recurses once per chain level
    for n in (int(size) for size in arguments.sizes.split(",")):
        for shape in ("wide", "chain"):
            print(f"facet 0.10.1 blocking  {shape:>6} {n:>7}  {measure(shape, n):8.0f} ns/service")


if __name__ == "__main__":
    main()
