"""`watcher doctor`: every integration's credentials, reachability and permissions (SPEC 10).

One module per integration, each returning its rows; `examine.py` runs them and decides the
exit code. Every row is a real call that reads and never writes (the state store's own check
writes a row and deletes it).
"""
