import handoff_router.callbacks.tables  # noqa: F401  (registers the feature's tables)
from handoff_router.tables import SCHEMA, metadata
from handoff_shared.migrations import run_env

run_env(metadata, SCHEMA)
