"""The core of oscbot: it decides, and never talks to a vendor.

Laid out by feature: `leads/` (intake rules, alerts, cadence, credit, screening),
`coverage/` (absences become coverages, backups, briefs, the return list), `routing/`
(the switch engine, its journal, the CRM hand-over), `delivery/` (the outbox and its
deliverer), `calendar/` (which events are absences, calendar sync), `config/` (app.yaml
and the environment), `reports/`, `team/`; `ports/` are the Protocols it talks through
and `fakes/` their in-memory versions. The loose modules are the shared vocabulary:
`model`, `errors`, `messages`, `timefmt`, `durations`, `isolation` and `context` (what
every way in and every job receives). Nothing here imports an adapter.
"""
