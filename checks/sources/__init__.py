"""The outside systems the checks read: HTTP APIs, the database, the clock."""
