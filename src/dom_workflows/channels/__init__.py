"""Sales-channel adapters: turn what a channel sends (e.g. a Shopify webhook) into an OrderRequest.

Pure functions only -- no I/O -- so every mapping rule is testable without a server.
"""
