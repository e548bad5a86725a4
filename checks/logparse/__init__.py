"""Reading Heroku log lines: parsing, the pattern catalogue, tallies and windows."""
