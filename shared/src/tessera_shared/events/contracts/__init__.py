"""Every published event's data model. Importing this package registers them all.

One module per producing service; consumers import the models they react to.
"""

from tessera_shared.events.contracts.billing import (
    Allocation,
    CreditLimitExceeded,
    DunningStep,
    InvoiceIssued,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceWrittenOff,
    PaymentReceived,
)
from tessera_shared.events.contracts.customer import (
    CustomerConsentChanged,
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerStatusChanged,
    CustomerTierChanged,
    CustomerUpdated,
)
from tessera_shared.events.contracts.sales import (
    ActivityDue,
    ActivityLogged,
    CampaignMemberStatusChanged,
    DealCreated,
    DealLargeDetected,
    DealLost,
    DealStageChanged,
    DealWon,
    LeadConverted,
    LeadCreated,
    LineItem,
)
from tessera_shared.events.contracts.service_desk import (
    SlaBreached,
    SurveyAnswered,
    TicketClosed,
    TicketEscalated,
    TicketOpened,
)

__all__ = [
    "ActivityDue",
    "ActivityLogged",
    "Allocation",
    "CampaignMemberStatusChanged",
    "CreditLimitExceeded",
    "CustomerConsentChanged",
    "CustomerCreated",
    "CustomerErased",
    "CustomerMerged",
    "CustomerStatusChanged",
    "CustomerTierChanged",
    "CustomerUpdated",
    "DealCreated",
    "DealLargeDetected",
    "DealLost",
    "DealStageChanged",
    "DealWon",
    "DunningStep",
    "InvoiceIssued",
    "InvoiceOverdue",
    "InvoicePaid",
    "InvoiceWrittenOff",
    "LeadConverted",
    "LeadCreated",
    "LineItem",
    "PaymentReceived",
    "SlaBreached",
    "SurveyAnswered",
    "TicketClosed",
    "TicketEscalated",
    "TicketOpened",
]
