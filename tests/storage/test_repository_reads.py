"""The bounded reads behind the brief, the return list, the App Home and the reports,
the same on the in-memory fakes, SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.model import (
    Activity,
    ActivityKind,
    Appointment,
    CreditTo,
    LeadStatus,
    Task,
    TaskStatus,
)
from bot.ports.repositories import Repositories
from tests.storage.test_repositories import T0, a_coverage, a_lead

MARIA, SAM = "maria@rh.example", "sam@rh.example"


def _leads(repos: Repositories, count: int, **changes: object) -> list[int]:
    ids = []
    for n in range(count):
        lead, _ = repos.leads.add(a_lead(f"r-{n}-{changes.get('owner_email', '')}",
                                         received_at=T0 + timedelta(minutes=n), **changes))
        assert lead.id is not None
        ids.append(lead.id)
    return ids


def test_lead_page_shows_the_newest_oldest_first_and_counts_all(repos: Repositories) -> None:
    ids = _leads(repos, 5)
    _leads(repos, 2, owner_email="alex@rh.example")
    rated = repos.leads.save(dataclasses.replace(repos.leads.get(ids[1]), rating="hot",
                                                 status=LeadStatus.CONTACTED))
    page = repos.leads.page(owner_email=MARIA, limit=3)
    assert [lead.id for lead in page.items] == ids[2:] and page.total == 5 and page.more == 2
    new = repos.leads.page(owner_email=MARIA, status=LeadStatus.NEW, limit=10)
    assert [lead.id for lead in new.items] == [ids[0], *ids[2:]] and new.more == 0
    assert repos.leads.page(owner_email=MARIA, rating="hot", limit=10).items == (rated,)
    window = repos.leads.page(received_from=T0 + timedelta(minutes=1),
                              received_to=T0 + timedelta(minutes=3), limit=10)
    assert window.total == 3  # minutes 1 and 2 of Maria's, minute 1 of Alex's
    assert repos.leads.page(assigned_to="nobody@rh.example", limit=5).total == 0


def test_get_many_reads_leads_by_id_across_batches(repos: Repositories) -> None:
    ids = _leads(repos, 3)
    assert repos.leads.get_many([ids[2], ids[0], 999]) == {
        ids[0]: repos.leads.get(ids[0]), ids[2]: repos.leads.get(ids[2])}
    assert repos.leads.get_many([]) == {}
    assert len(repos.leads.get_many(list(range(-600, 0)) + ids)) == 3


def test_lapsed_leads_in_a_window(repos: Repositories) -> None:
    first, second = _leads(repos, 2)
    lapsed = repos.leads.save(dataclasses.replace(repos.leads.get(first),
                                                  protection_lapsed_at=T0 + timedelta(days=1)))
    repos.leads.save(dataclasses.replace(repos.leads.get(second),
                                         protection_lapsed_at=T0 + timedelta(days=5)))
    assert repos.leads.lapsed(lapsed_from=T0, lapsed_to=T0 + timedelta(days=2)) == [lapsed]


def test_notes_by_the_backup_on_the_owners_leads(repos: Repositories) -> None:
    mine, = _leads(repos, 1)
    theirs, = _leads(repos, 1, owner_email="alex@rh.example")

    def note(lead_id: int, by: str, minutes: int, notes: str) -> Activity:
        return repos.activities.add(Activity(
            id=None, lead_id=lead_id, kind=ActivityKind.CALL, direction="outbound", by_email=by,
            at=T0 + timedelta(minutes=minutes), notes=notes))

    kept = [note(mine, SAM, 5, "left voicemail"), note(mine, SAM, 9, "reached her")]
    note(mine, SAM, 7, "")  # no notes
    note(mine, MARIA, 6, "the OSC's own")
    note(theirs, SAM, 6, "someone else's lead")
    note(mine, SAM, 60 * 24 * 9, "after the coverage")
    found = repos.activities.notes_by(by_email=SAM, owner_email=MARIA, start=T0,
                                      end=T0 + timedelta(days=4), limit=10)
    assert found == kept
    assert repos.activities.notes_by(by_email=SAM, owner_email=MARIA, start=T0,
                                     end=T0 + timedelta(days=4), limit=1) == kept[:1]


def test_task_pages_and_tasks_left_for_the_return(repos: Repositories) -> None:
    coverage = repos.coverages.add(a_coverage())

    def task(minutes: int, **changes: object) -> Task:
        base = Task(id=None, title=f"t{minutes}", due_at=T0 + timedelta(minutes=minutes),
                    owner_email=MARIA, assignee_email=MARIA)
        return repos.tasks.add(dataclasses.replace(base, **changes))  # type: ignore[arg-type]

    left = task(3, created_by=SAM)
    moved = task(1, coverage_id=coverage.id, assignee_email=SAM)
    own = task(2, created_by=MARIA)
    task(4, created_by=SAM, status=TaskStatus.DONE)
    page = repos.tasks.page(owner_email=MARIA, status=TaskStatus.OPEN, limit=2)
    assert page.items == (moved, own) and page.total == 3
    assert repos.tasks.page(assignee_email=SAM, limit=5).items == (moved,)
    assert repos.tasks.page(due_from=T0 + timedelta(minutes=2),
                            due_before=T0 + timedelta(minutes=4), limit=5).items == (own, left)
    returned = repos.tasks.left_for(owner_email=MARIA, created_by=SAM,
                                    coverage_id=coverage.id, limit=5)
    assert returned.items == (moved, left) and returned.total == 2
    assert repos.tasks.left_for(owner_email=MARIA, created_by=None, coverage_id=None,
                                limit=5).total == 0


def test_appointments_in_a_window(repos: Repositories) -> None:
    mine, = _leads(repos, 1)
    theirs, = _leads(repos, 1, owner_email="alex@rh.example")

    def booked(lead_id: int, days: int) -> Appointment:
        return repos.appointments.add(Appointment(
            id=None, lead_id=lead_id, set_by=SAM, at=T0 + timedelta(days=days),
            credit_email=MARIA, credit_to=CreditTo.OSC, bonus_email=None))

    inside, later, also = booked(mine, 1), booked(mine, 6), booked(theirs, 2)
    assert repos.appointments.list(at_from=T0, at_to=T0 + timedelta(days=4)) == [inside, also]
    assert repos.appointments.list(at_from=T0 + timedelta(days=6)) == [later]
