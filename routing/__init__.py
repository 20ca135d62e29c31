"""Routing adapters: one module per vendor (CRMs, email, calls), each a
`RoutingAdapter` (or a `CrmClient` for the core's CRM hand-over), plus `builtin`
(oscbot's own route table) and `manual` (a step a person confirms).
"""
