"""Names shared by the web side and the workers: job names, Redis keys."""

API_PREFIX = "/api/v1"

# Redis keys.
WORKER_HEARTBEAT_KEY = "veza:worker:heartbeat"

# Job names.
END_STALE_BROADCASTS_JOB = "end_stale_broadcasts"
