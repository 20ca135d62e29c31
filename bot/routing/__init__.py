"""Routing: `engine` (`RoutingEngine`: journaled, resumable switches per channel and their
revert) and `crm_handover` (`CrmRouting`: the lead channel of a CRM, moving records one
by one by the hand-over rules). The journal's and the CRM's records live with their
ports, `bot.ports.routing`.
"""
