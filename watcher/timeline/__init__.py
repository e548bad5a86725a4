"""The watch's timeline from T0: its phases, the marks posted at 4, 8 and 24 hours, the Section 8
record.
"""
