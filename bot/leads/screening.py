"""Spotting obvious non-leads (job seekers, vendors, spam) so a person can dismiss them.

Only a hint: the lead is still routed and chased until someone marks it "not a lead".
"""

from __future__ import annotations

import re

_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("job seeker", re.compile(r"\b(internships?|job openings?|hiring|resume|r[ée]sum[ée]|"
                              r"career|apply for a (job|position))\b", re.IGNORECASE)),
    ("vendor", re.compile(r"\b(seo|marketing services|lead generation services|"
                          r"partnership opportunity|supplier|vendor)\b", re.IGNORECASE)),
    ("spam", re.compile(r"(https?://\S+.*){3,}|\b(crypto|bitcoin|casino|viagra)\b",
                        re.IGNORECASE | re.DOTALL)),
)


def non_lead_hint(message: str) -> str | None:
    """Why this inquiry looks like it is not a buyer (a short label), or None."""
    for label, pattern in _SIGNS:
        if pattern.search(message):
            return label
    return None
