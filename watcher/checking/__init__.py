"""Running the checks: the sources one run shares, the concurrent runner, and keeping what they
observed.
"""
