"""logstream benchmarks: ``make bench`` (or ``python -m benchmarks``). See README "Performance"."""
