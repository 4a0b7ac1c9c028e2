"""Cloud files: streamed uploads, versions, restores, and expiring share links.

Who owns what:
- ``routes``: HTTP only; parses the request, calls a service with plain values, answers.
- ``multipart``: reads a multipart/form-data body as an upload ``Source`` (the one HTTP reader of uploads).
- ``service``: files and versions (upload, new content, snapshot, restore, delete); takes ``app``
  and values, so a worker can call it with a ``ByteSource``.
- ``uploads``: stores a byte stream under a key, counted, hashed, within limit and quota.
- ``quota``: the per-user reservation that uploads grow and commit.
- ``shares``: share links (create, list, revoke, open by token for a client address).
- ``names``: safe names, content types and storage keys.
- ``models``: the request and answer shapes; ``queries``: SQL.
Downloads go through ``veza.storage.serve``.
"""
