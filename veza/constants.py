"""Names shared by the web side and the workers: job names, Redis keys."""

API_PREFIX = "/api/v1"

# Job names.
RECONCILE_STORAGE_JOB = "reconcile_storage"
END_STALE_BROADCASTS_JOB = "end_stale_broadcasts"
RENDER_INVOICE_JOB = "render_invoice"  # (order_id): the order's invoice PDF, rendered and stored once
SWEEP_INVOICES_JOB = "sweep_invoices"  # cron: enqueues render_invoice for paid orders whose PDF is not stored
DELIVER_SANDBOX_EVENT_JOB = "deliver_sandbox_event"  # (event_id): the sandbox gateway POSTs its webhook
WARRANTY_CHECK_JOB = "warranty_check"  # cron, daily: notify owners of warranties ending in 30, 7, 1, 0 days
SEND_TRANSFER_JOB = "send_transfer"  # (transfer_id): pay a seller their share of an order
REVERSE_TRANSFER_JOB = "reverse_transfer"  # (transfer_id): take a refunded order's transfer back
SWEEP_SANDBOX_EVENTS_JOB = "sweep_sandbox_events"  # cron: queue again the sandbox events still undelivered
SWEEP_CHECKOUT_JOB = "sweep_checkout"  # cron: expired idempotency keys, orders left without a payment
RESEND_REFUNDS_JOB = "resend_refunds"  # cron: ask the gateway again for refunds it never acknowledged
SWEEP_TRANSFERS_JOB = "sweep_transfers"  # cron: queue due transfer retries, lost transfers, due reversals
EXPORT_JOB = "build_export"  # (export_id): build and store a user's data archive (ZIP)
EXPIRE_EXPORTS_JOB = "expire_exports"  # cron, daily: delete the archives past their expiry
SWEEP_EXPORTS_JOB = "sweep_exports"  # cron: queue again the exports a crash left pending or running
ERASE_ACCOUNT_JOB = "erase_account"  # (user_id): delete what a deleted account held
SWEEP_ERASURES_JOB = "sweep_erasures"  # cron: queue again the erasures a crash or an outage left unfinished

# Redis keys, and the prefixes of the keys and channels named after something.
WORKER_HEARTBEAT_KEY = "veza:worker:heartbeat"
STORAGE_RECONCILIATION_KEY = "veza:storage:reconciliation"  # the last run's summary, for /health/deep
LOGIN_ATTEMPTS_PREFIX = "veza:login:attempts:"  # + the email, lowercased
SESSION_CACHE_PREFIX = "veza:auth:session:"  # + the session id: "live" or "revoked"
RATE_LIMIT_PREFIX = "veza:rl:"  # + "<limit's name>:<client>"
VIEWERS_SENT_PREFIX = "veza:live:viewers-sent:"  # + the stream id: stream.viewers sent within the last second
REALTIME_PREFIX = "veza:rt:"  # pub/sub channels of the real-time events
