"""Routing: `engine` (`RoutingEngine`: journaled, resumable switches per channel and
their revert), `journal` (the records of a switch), `crm` (CRM records and moves) and
`crm_handover` (`CrmRouting`: the lead channel of a CRM, moving records one by one).
"""
