"""Every published event's data model. Importing this package registers them all."""

from tessera_shared.events.contracts.customer import CustomerCreated

__all__ = ["CustomerCreated"]
