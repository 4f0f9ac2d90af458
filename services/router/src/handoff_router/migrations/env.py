from handoff_router.tables import SCHEMA, metadata
from handoff_shared.migrations import run_env

run_env(metadata, SCHEMA)
