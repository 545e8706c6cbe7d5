"""Benchmarks (not part of the test suite): `scripts/run python -m pytest benchmarks -s -p no:randomly`."""
