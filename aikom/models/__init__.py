"""ORM models, one module per aggregate; importing this package registers every table."""

from aikom.models.account import (
    AccessKey,
    Account,
    AccountState,
    DeactivationReason,
    KeyDelivery,
    KeyKind,
    KeyState,
    Person,
    PersonRole,
    PersonState,
)
from aikom.models.audit import AuditEntry
from aikom.models.base import Base
from aikom.models.monitor import MonitorDay, MonitorOpen, MonitorRecent, MonitorRefresh, MonitorUnits
from aikom.models.ois import Agreement, GrantState, Ois, OisCapability, OisGrant, OisState
from aikom.models.org import BranchLink, BranchLinkOutcome, OrgLevel, OrgStatus, OrgUnit
from aikom.models.outbox import EmailMessage, EmailState
from aikom.models.process import (
    Absence,
    ApprovalTask,
    DashboardSession,
    Decision,
    Process,
    ProcessState,
    RolloutItem,
    RolloutOutcome,
    SignedDecision,
    SigninAttempt,
    SigninChallenge,
    TaskState,
)
from aikom.models.support import SupportRequest, SupportRequestState, SupportRequestType

__all__ = [
    "Absence",
    "AccessKey",
    "Account",
    "AccountState",
    "Agreement",
    "ApprovalTask",
    "AuditEntry",
    "Base",
    "BranchLink",
    "BranchLinkOutcome",
    "DashboardSession",
    "DeactivationReason",
    "Decision",
    "EmailMessage",
    "EmailState",
    "GrantState",
    "KeyDelivery",
    "KeyKind",
    "KeyState",
    "MonitorDay",
    "MonitorOpen",
    "MonitorRecent",
    "MonitorRefresh",
    "MonitorUnits",
    "Ois",
    "OisCapability",
    "OisGrant",
    "OisState",
    "OrgLevel",
    "OrgStatus",
    "OrgUnit",
    "Person",
    "PersonRole",
    "PersonState",
    "Process",
    "ProcessState",
    "RolloutItem",
    "RolloutOutcome",
    "SignedDecision",
    "SigninAttempt",
    "SigninChallenge",
    "SupportRequest",
    "SupportRequestState",
    "SupportRequestType",
    "TaskState",
]
