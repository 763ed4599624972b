"""The pytest wiring: hooks, the run's state, fixtures, reports and what a finished run
leaves behind. The only layer that imports pytest (besides ``plugin.py``).
"""
