"""The benchmark suite (`make bench`): throughput, freshness and latency measured
against the broker's own limits and plain references, in the same run.

See ``suite`` for the benchmarks and ``__main__`` for the command line; the
results go to ``bench-results/<time>.json`` and the table to docs/performance.md.
"""
