"""Benchmarks and load generators; results are written to bench/README.md."""
