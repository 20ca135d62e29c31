"""Slack: Bolt listeners, Block Kit rendering and the Slack chat port."""
