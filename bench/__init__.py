"""Benchmarks of approval-bot against its peers (issue 8): `python -m bench` or `bench/run`; see bench/README.md."""
