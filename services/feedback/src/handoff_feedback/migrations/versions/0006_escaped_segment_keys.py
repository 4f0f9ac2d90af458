"""segment keys escape their values

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:30:00

A segment key writes each value percent-encoded where it holds ``%``, ``,``, ``=``, ``|`` or
a control character, so a key reads back as exactly one segment. Keys written before did
not escape: each is read the old way (a single-attribute key's value is everything after
``name=``; a two-attribute key splits at the first ``,<second name>=``) and written again
escaped. Keys of plain values (most) are unchanged.
"""
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'
DIMENSIONS = {
    'source': ('source',),
    'campaign': ('campaign',),
    'source_campaign': ('source', 'campaign'),
    'team': ('team',),
    'rep': ('rep',),
    'team_rep': ('team', 'rep'),
    'rule': ('rule',),
}
ESCAPED = re.compile(r'[%,=|\x00-\x1f\x7f]')
TABLES = ('aggregates', 'changed_windows', 'alerts')


def _escape(value: str) -> str:
    return ESCAPED.sub(lambda m: ''.join(f'%{b:02X}' for b in m.group().encode()), value)


def _rewritten(dimension: str, key: str) -> str:
    names = DIMENSIONS.get(dimension)
    if not names or not key.startswith(f'{names[0]}='):
        return key
    rest = key[len(names[0]) + 1 :]
    if len(names) == 1:
        return f'{names[0]}={_escape(rest)}'
    first, separator, second = rest.partition(f',{names[1]}=')
    if not separator:
        return key
    return f'{names[0]}={_escape(first)},{names[1]}={_escape(second)}'


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        rows = bind.execute(sa.text(f'SELECT DISTINCT dimension, segment FROM {SCHEMA}.{table}')).all()
        changes = [(d, s, _rewritten(d, s)) for d, s in rows if _rewritten(d, s) != s]
        for dimension, old, new in changes:
            bind.execute(
                sa.text(f'UPDATE {SCHEMA}.{table} SET segment = :new WHERE dimension = :d AND segment = :old'),
                {'new': new, 'd': dimension, 'old': old},
            )


def downgrade() -> None:
    """Keys stay escaped: the older code reads an escaped plain key the same, and one with an
    escape as a value holding ``%XX``."""
