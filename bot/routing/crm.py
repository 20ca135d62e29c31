"""CRM hand-over's records: a CRM lead or task as the CRM reports it, and every move made.

A CRM does not route by one pointer: each lead and task has an owner. Covering for
an OSC therefore moves records, and putting things back moves exactly those records
back. The rules (from how online sales teams run a backup plan):

- Tasks of the OSC due before the coverage ends move to the backup, in both modes,
  so the backup works them under their own login.
- Short-term: leads stay the OSC's. The backup does the first outreach from oscbot's
  alerts, adds notes and a future task for the OSC.
- Long-term: leads created in the CRM during the coverage and owned by the OSC are
  reassigned to the backup, who runs the follow-up process.
- Existing leads never move.
- On return every moved record still owned by the backup goes back; completed tasks
  and converted leads stay with whoever finished them; a record somebody changed by
  hand meanwhile is reported and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RecordKind(StrEnum):
    """What kind of CRM record moved."""

    LEAD = "lead"
    TASK = "task"


@dataclass(frozen=True)
class CrmRecord:
    """A lead or task as the CRM reports it: its id, its owner and whether it is open.

    `owner` is the CRM's own value (a user id, or for CRMs with several assigned reps
    the canonical list), compared as is and written back as is.
    """

    kind: RecordKind
    id: str
    owner: str
    open: bool = True
    owner_label: str = ""  # how to name the owner to people, when `owner` is not plain


CRM_NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce", "lasso": "Lasso"}


def crm_name(crm: str) -> str:
    """A CRM's name as people write it."""
    return CRM_NAMES.get(crm, crm)


class MoveStatus(StrEnum):
    """Where one record's hand-over stands."""

    PENDING = "pending"  # recorded, not yet confirmed moved
    MOVED = "moved"
    RETURNED = "returned"
    KEPT = "kept"  # long-term leads left with the backup on purpose
    FINISHED = "finished"  # completed task or converted lead: stays with who finished it
    CHANGED = "changed"  # changed by hand meanwhile: reported, left alone
    GONE = "gone"  # deleted in the CRM


OUTSTANDING = (MoveStatus.PENDING, MoveStatus.MOVED)  # may still need to go back


@dataclass(frozen=True)
class RecordMove:
    """One CRM record moved for one coverage; unique on (coverage, crm, kind, record)."""

    id: int | None
    coverage_id: int
    osc_email: str
    crm: str
    kind: RecordKind
    record_id: str
    before: str
    after: str
    status: MoveStatus
    at: datetime
    note: str = ""
