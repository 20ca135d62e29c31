"""The ways in: `slack/`, `teams/`, `http/` (lead intake, health, webhooks), `console/`
(the demo and the shell) and `cli/` (the `oscbot` command), with `wiring` (the
composition root that builds the services from app.yaml and the environment).
"""
