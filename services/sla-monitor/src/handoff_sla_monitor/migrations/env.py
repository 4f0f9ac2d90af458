from handoff_sla_monitor.tables import SCHEMA, metadata
from handoff_shared.migrations import run_env

run_env(metadata, SCHEMA)
