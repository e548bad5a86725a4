"""The watcher's own signals: Prometheus metrics (served or pushed), Sentry self-monitoring, logfmt
logs.
"""
