"""arq workers: each job is thin and calls into veza's services."""
