"""Cloud files: streamed uploads, versions, restores, and expiring share links."""
