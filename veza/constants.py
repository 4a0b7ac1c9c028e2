"""Names shared by the web side and the workers: job names, Redis keys."""

API_PREFIX = "/api/v1"

# Redis keys.
WORKER_HEARTBEAT_KEY = "veza:worker:heartbeat"
