"""Non-lead hints: job seekers, vendors and spam are pointed out, buyers are not."""

from __future__ import annotations

import pytest

from bot.leads.screening import non_lead_hint


@pytest.mark.parametrize(("message", "hint"), [
    ("Hi! I'm a student asking about internships this summer.", "job seeker"),
    ("Are you hiring sales associates? Attached my resume.", "job seeker"),
    ("We offer SEO and marketing services for builders.", "vendor"),
    ("Win big http://a.example http://b.example http://c.example", "spam"),
    ("Is the 3-bed plan at Riverside still available?", None),
    ("Do you have quick move-in homes near the new school?", None),
])
def test_hints(message: str, hint: str | None) -> None:
    assert non_lead_hint(message) == hint
