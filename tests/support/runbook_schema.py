"""A schema like raxx-api-prod's after `alembic upgrade head` (runbook 4.1, 4.2): 35 tables."""

from __future__ import annotations

MIGRATION_TABLES = ("alembic_version", "schema_migrations")

# Named in the runbook (4.2, 5.2) first, then the rest of a trading app's tables.
APP_TABLES = (
    "users",
    "sessions",
    "paper_orders",
    "historical_bars",
    "webauthn_credentials",
    "backup_codes",
    "customer_audit_events",
    "vendor_billing_snapshots",
    "accounts",
    "api_keys",
    "watchlists",
    "watchlist_items",
    "instruments",
    "quotes",
    "positions",
    "portfolios",
    "portfolio_snapshots",
    "strategies",
    "strategy_runs",
    "backtests",
    "backtest_trades",
    "alerts",
    "alert_deliveries",
    "notifications",
    "feature_flags",
    "subscriptions",
    "invoices",
    "payment_methods",
    "email_verifications",
    "password_resets",
    "login_attempts",
    "device_trust",
    "rate_limit_buckets",
)
TABLE_COUNT = len(APP_TABLES) + len(MIGRATION_TABLES)


def schema_sql(revision: str) -> str:
    """DDL for every table, each application table with a BIGSERIAL id (a sequence to grant)."""
    statements = [
        f"CREATE TABLE {name} (id BIGSERIAL PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL"
        " DEFAULT now(), payload JSONB)"
        for name in APP_TABLES
    ]
    statements += [
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
        f"INSERT INTO alembic_version VALUES ('{revision}')",
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)",
        'INSERT INTO historical_bars (payload) VALUES (\'{"symbol": "AAPL"}\')',
    ]
    return ";\n".join(statements) + ";"
