"""Coverage: an absence of an OSC covered by a backup. `lifecycle` (planned, active,
returned, cancelled; reconciling with the calendar), `backups` (who may cover),
`service` (`CoverageService`: declare, start, end, come back early), `announcer` and
`briefs` (the handoff brief, the backup's note, the return-to-office list), `facts`
(what those show, read from the records) and `return_check` ("are you back?").
"""
