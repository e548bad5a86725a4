"""The `watcher` command line: its commands, the `once` output, and the README tables it can
regenerate.
"""
