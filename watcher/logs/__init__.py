"""Reading the app's Heroku log: the daemon's follower and `watcher scan` of an exported log."""
