from handoff_shared.migrations import run_env
from handoff_sla_monitor.tables import SCHEMA, metadata

run_env(metadata, SCHEMA)
