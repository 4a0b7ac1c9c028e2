"""Names shared by the web side and the workers: job names, Redis keys."""

API_PREFIX = "/api/v1"

# Job names.
RECONCILE_STORAGE_JOB = "reconcile_storage"
END_STALE_BROADCASTS_JOB = "end_stale_broadcasts"

# Redis keys.
WORKER_HEARTBEAT_KEY = "veza:worker:heartbeat"
STORAGE_RECONCILIATION_KEY = "veza:storage:reconciliation"  # the last run's summary, for /health/deep
