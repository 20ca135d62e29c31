"""The team: `names` (how people are named in messages)."""
