"""Peer apps for the benchmark (issue 8). Excluded from ruff; they import lark_oapi on purpose (peers B and C)."""
