"""The pure core: approval rules, the approval model, inbound values and command parsing, errors and records.

No I/O and no imports from the rest of the project (docs/architecture.md): everything above depends on it.
"""
