"""Deciding alerts from observations (fire, remind, resolve) and the runbook's advice for each."""
