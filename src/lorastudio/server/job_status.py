"""A job's states, shared by the runner (jobs.py) and the kinds it runs (job_kinds.py, tune_jobs.py)."""

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
