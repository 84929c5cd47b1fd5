"""thb-kb benchmarks: `python -m bench [--quick]` (see docs/benchmarks.md)."""
