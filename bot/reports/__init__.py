"""Reports: `numbers` (per person response times, contact rates, appointments),
`service` (a month's or a week's rows from the records) and `digest` (the weekly
digest's text).
"""
