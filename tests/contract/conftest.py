from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One node id per fuzzed operation (``test_sales[POST /v1/deals]``).

    Schemathesis names each operation's item so, but pytest 9.2 builds a function's node id from
    its original name and its parametrize ids only, so every operation of a target got the same
    id. pytest-xdist's file scheduling keys work by node id: it ran one operation per target and
    dropped the rest, silently."""
    for item in items:
        label = getattr(item, "operation_label", None)
        original = getattr(item, "originalname", None)
        if label and original and item.parent is not None and "[" not in item.nodeid:
            item._id = item.parent.id.child(original).with_params(label)
