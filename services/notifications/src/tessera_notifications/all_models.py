"""Importing this module registers every notifications table on the service's metadata."""

from tessera_notifications.copies import models as _copies  # noqa: F401
from tessera_notifications.email import models as _email  # noqa: F401
from tessera_notifications.inbox import models as _inbox  # noqa: F401
from tessera_notifications.preferences import models as _preferences  # noqa: F401
from tessera_notifications.rules import models as _rules  # noqa: F401
from tessera_notifications.teams import KnownTeam as _teams  # noqa: F401
from tessera_notifications.webhooks import models as _webhooks  # noqa: F401
