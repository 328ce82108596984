"""Scheduled work: sweeps that close rounds, refund, pay out and collect repayments.

Every sweep is safe to run in any number of processes at once and after a crash: it
selects rows that are due and not yet done, claims each with ``FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``), re-checks that it is
still due, does the work and commits that one row. A process killed mid-sweep leaves
committed rows done and the rest due for the next run.
"""
