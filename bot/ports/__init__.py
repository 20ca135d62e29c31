"""Ports: the small Protocols the core talks through, one family per module.

`clock` (the time), `chat` (a chat platform and its stored conversations), `records`
(coverages, leads, activities, tasks, appointments, the audit log), `routing` (a
channel's switch, the route table, the switch journal, a CRM), `delivery` (the outbox,
the unit of work, inbound dedupe), `jobs` (job slots and leased work items) and
`calendars` (reading a calendar, its sync state). `Repositories` bundles every
repository a service receives. Each family has in-memory fakes in `bot.fakes`, in a
module of the same name.
"""
