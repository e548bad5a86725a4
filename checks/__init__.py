"""Checks of the cutover watch: each takes plain inputs and returns a `Result`."""
