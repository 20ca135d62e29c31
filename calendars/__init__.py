"""Calendar adapters: ICS feeds (`ics`, `ics_feed`, `ics_parse`), Google Calendar
(`google`, `google_push`) and Outlook through Microsoft Graph (`outlook`,
`outlook_push`), each a `CalendarSource`.
"""
