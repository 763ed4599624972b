"""The runbook's rules: the verdict, incident drafts, the baseline comparison, and the cron
and migration logic the D1 checks judge. (The commands that run them — perf, monitor, watch,
contract diff — are in ``commands``; the trend store is ``history``.)
"""
