"""Peer apps for the benchmark. Excluded from ruff; they import lark_oapi on purpose (peers B and C)."""
