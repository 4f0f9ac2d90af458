"""Every domain error of the router and the HTTP status it is answered with: the one place
where use cases' refusals become RFC 9457 problem details."""

from __future__ import annotations

from handoff_shared.http import ErrorStatuses

from handoff_router.accounts.errors import AccountNotFound, BookConflicts, BookTooLarge, BookUnreadable
from handoff_router.assignments.errors import (
    AlreadyDecided,
    AssignmentNotFound,
    CannotQualify,
    InvalidQualification,
    InvalidReason,
    NotYourAssignment,
)
from handoff_router.auth import AdminOnly, NotAuthenticated, RepOnly
from handoff_router.callbacks.errors import DeliveryNotFound, SecretsNotConfigured, UnknownRecipient
from handoff_router.configs.errors import InvalidConfig, InvalidLead, InvalidLeadFile, NoConfigYet, NotText
from handoff_router.context import NoActiveConfig
from handoff_router.intake.errors import (
    BodyTooLarge,
    InvalidImport,
    KafkaNotReady,
    NotAuthenticatedSource,
    SecretsUnavailable,
    UnknownSource,
)
from handoff_router.queue.errors import LeadNotQueued, NotParked
from handoff_router.reps.errors import InvalidSuccessor, NotThatRep, UnknownRep
from handoff_router.slack.errors import NotFromSlack, SlackNotConfigured

ERROR_STATUSES: ErrorStatuses = {
    NotAuthenticated: (401, "Unauthorized"),
    AdminOnly: (403, "Forbidden"),
    RepOnly: (403, "Forbidden"),
    AssignmentNotFound: (404, "Assignment not found"),
    NotYourAssignment: (403, "Not your assignment"),
    AlreadyDecided: (409, "Assignment already decided"),
    InvalidReason: (422, "Invalid rejection reason"),
    CannotQualify: (409, "Assignment cannot be qualified"),
    InvalidQualification: (422, "Invalid qualification"),
    NoActiveConfig: (409, "No routing configuration is active"),
    NoConfigYet: (404, "Not found"),
    InvalidConfig: (422, "Invalid routing configuration"),
    InvalidLead: (422, "Invalid lead"),
    InvalidLeadFile: (422, "Invalid lead file"),
    NotText: (422, "Invalid upload"),
    UnknownRep: (404, "Unknown rep"),
    NotThatRep: (403, "Not that rep"),
    InvalidSuccessor: (422, "Invalid successor"),
    NotFromSlack: (401, "Not signed by Slack"),
    SlackNotConfigured: (401, "Slack is not configured"),
    DeliveryNotFound: (404, "Delivery not found"),
    UnknownRecipient: (404, "Unknown rep or manager"),
    SecretsNotConfigured: (503, "Callback secrets are not configured"),
    LeadNotQueued: (404, "Lead not in the queue"),
    NotParked: (409, "Lead not parked"),
    UnknownSource: (404, "Unknown intake source"),
    NotAuthenticatedSource: (401, "Delivery not authenticated"),
    BodyTooLarge: (413, "Body too large"),
    KafkaNotReady: (503, "Not connected to Kafka yet"),
    SecretsUnavailable: (503, "Intake secrets are not configured"),
    InvalidImport: (422, "Invalid import"),
    AccountNotFound: (404, "Account not found"),
    BookConflicts: (422, "Conflicting account book"),
    BookUnreadable: (422, "Unreadable account book"),
    BookTooLarge: (413, "Account book too large"),
}
