"""HTTP: one ASGI app for Slack, Teams, lead intake, health and metrics."""
