"""Microsoft Graph: `graph` (the one client calendars and routing share, with its
per-mailbox limits) and `access` (Graph's refusals in words an admin can act on).
"""
