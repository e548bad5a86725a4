"""`watcher report`: the whole watch on one page (docs/commands.md).

`model` is what the page says; `from_store` builds it from the state store's history;
`html` (with `svg` for the charts) and `markdown` render it.
"""
