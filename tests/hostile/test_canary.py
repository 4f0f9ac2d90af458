"""The canary itself: on a healthy stack it passes."""

from __future__ import annotations

import pytest

from tests.hostile.canary import Canary

pytestmark = pytest.mark.integration


async def test_canary_is_assigned_once_and_every_outbox_drains(canary: Canary) -> None:
    lead_id = await canary.check()
    assert lead_id.startswith("canary-")
