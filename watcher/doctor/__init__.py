"""`watcher doctor`: each integration's credentials, reach and rights (docs/before-t0.md).

One module per integration, each returning its rows; `examine.py` runs them and decides the
exit code. Every row is a real call that reads and never writes (the state store's own check
writes a row and deletes it).
"""
