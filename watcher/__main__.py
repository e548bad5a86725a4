"""`python -m watcher` is the `watcher` command."""

from watcher.cli.main import main

raise SystemExit(main())
