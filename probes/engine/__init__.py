"""The measurement engine: campaigns, planning, limits, runs, resume, sharding, workers.

Importing this package does no I/O; see runs.execute for the whole life of a run.
"""
