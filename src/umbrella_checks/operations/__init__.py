"""Operations: history and trends, incident drafts, the verdict, the monitor, the
Locust release gate, and the cron and migration logic the D1 checks judge.
"""
