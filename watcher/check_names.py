"""The checks' stable names (SPEC section 3), in the order every listing uses.

A module of its own so the CLI can name the checks without importing them.
"""

CHECK_NAMES = (
    "healthz",
    "logs",
    "sentry",
    "pg_info",
    "pg_connections",
    "tables",
    "grants",
    "migrations",
)
