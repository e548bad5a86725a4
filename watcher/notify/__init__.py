"""Telling people: channel-neutral notices, the outbox's delivery, and its channels (Slack,
Alertmanager).
"""
