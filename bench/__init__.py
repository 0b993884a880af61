"""Benchmarks of approval-bot against its peers: `python -m bench` or `bench/run`; see bench/README.md."""
