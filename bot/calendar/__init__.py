"""Calendars: `absences` (which events are absences, merged into stretches), `sync`
(`CalendarSyncService`: read every calendar, keep the last good copy, reconcile
coverages), `scan` (what `oscbot calendar scan` shows) and `alerts`.
"""
