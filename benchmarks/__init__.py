"""Benchmarks: equation-solving and text-processing suites, a runner, reports, scale-out."""
