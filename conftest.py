pytest_plugins = [
    "tessera_shared.testing.plugin",
    "tessera_shared.testing.collection",
    "tessera_shared.testing.ordering",
    "tessera_shared.testing.rewrites",
]
