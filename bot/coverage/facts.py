"""What the handoff brief and the return-to-office list show, read in a fixed number
of queries whatever the size of the OSC's history: the rows a message shows (the most
recent ones) and counts for the rest.
"""

from __future__ import annotations

from datetime import datetime

from bot.coverage.briefs import BriefFacts, ReturnFacts
from bot.model import Coverage, LeadStatus, TaskStatus
from bot.ports.repositories import Repositories

# Rows per list in a brief or a return list; the rest is counted ("… and 12 more").
# A Slack message holds at most 50 blocks, so longer lists would not be seen anyway.
SHOWN = 20
# Notes read for "Leads the backup worked" before the list is cut.
NOTES_READ = 200
HOT = "hot"


def brief_facts(repos: Repositories, coverage: Coverage, *, now: datetime,
                heads_up: bool = False) -> BriefFacts:
    """Everything the handoff brief shows for a coverage."""
    osc = coverage.osc_email
    uncontacted = repos.leads.page(owner_email=osc, status=LeadStatus.NEW, limit=SHOWN)
    hot = repos.leads.page(owner_email=osc, rating=HOT, limit=SHOWN)
    tasks = repos.tasks.page(owner_email=osc, status=TaskStatus.OPEN,
                             due_from=min(now, coverage.start), due_before=coverage.end,
                             limit=SHOWN)
    # The team's appointments in the window, then the OSC's: the window bounds the read,
    # and the lead names are needed anyway.
    in_window = repos.appointments.list(at_from=coverage.start, at_to=coverage.end)
    leads = repos.leads.get_many({a.lead_id for a in in_window})
    appointments = [a for a in in_window
                    if a.lead_id in leads and leads[a.lead_id].owner_email == osc]
    return BriefFacts(
        coverage=coverage, heads_up=heads_up,
        switches=repos.switches.list(coverage_id=coverage.id) if coverage.id else [],
        hot_leads=hot.items, hot_more=hot.more,
        uncontacted=uncontacted.items, uncontacted_more=uncontacted.more,
        tasks=tasks.items, tasks_more=tasks.more, appointments=appointments,
        moves=repos.moves.list(coverage_id=coverage.id) if coverage.id else [],
        leads_by_id=leads)


def return_facts(repos: Repositories, coverage: Coverage) -> ReturnFacts:
    """Everything the return-to-office list shows for a coverage."""
    osc, backup = coverage.osc_email, coverage.backup_email
    new = repos.leads.page(owner_email=osc, received_from=coverage.start,
                           received_to=coverage.end, limit=SHOWN)
    uncontacted = repos.leads.page(owner_email=osc, status=LeadStatus.NEW, limit=SHOWN)
    notes = (repos.activities.notes_by(by_email=backup, owner_email=osc, start=coverage.start,
                                       end=coverage.end, limit=NOTES_READ) if backup else [])
    appointments = repos.appointments.list(coverage_id=coverage.id) if coverage.id else []
    tasks = repos.tasks.left_for(owner_email=osc, created_by=backup,
                                 coverage_id=coverage.id, limit=SHOWN)
    leads = repos.leads.get_many({a.lead_id for a in notes}
                                 | {a.lead_id for a in appointments})
    by_lead: dict[int, list[str]] = {}
    for activity in notes:
        by_lead.setdefault(activity.lead_id, []).append(activity.notes)
    worked = []
    for lead_id, lead_notes in by_lead.items():
        lead = leads.get(lead_id)
        if lead is not None:
            rating = f" (rated {lead.rating})" if lead.rating else ""
            worked.append((lead, "; ".join(lead_notes) + rating))
    worked.sort(key=lambda pair: (pair[0].received_at, pair[0].id or 0))
    return ReturnFacts(
        coverage=coverage, new_leads=new.items, new_total=new.total,
        worked=worked[:SHOWN], worked_more=max(0, len(worked) - SHOWN),
        appointments=appointments, tasks_for_osc=tasks.items, tasks_more=tasks.more,
        still_uncontacted=uncontacted.items, uncontacted_more=uncontacted.more,
        switches=repos.switches.list(coverage_id=coverage.id) if coverage.id else [],
        moves=repos.moves.list(coverage_id=coverage.id) if coverage.id else [],
        leads_by_id=leads)
