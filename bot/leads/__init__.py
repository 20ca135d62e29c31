"""Leads: `service` (`LeadService`: receive and route, chase to first contact, log
contacts and appointments, claims), `upkeep` (reminders and coverage protection),
`alerts` (lead cards, speed-to-lead alerts, escalations, reminders), `cadence`
(follow-up steps), `credit` (who earns an appointment) and `screening` (non-leads).
"""
