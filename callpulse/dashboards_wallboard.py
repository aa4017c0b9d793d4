"""The live wallboard: one row per queue (repeated over ``$queue``) of big coloured tiles, refreshed every 5 s.

Each tile shows one value per channel (and tenant) of the queue: what is true now, or over the sliding
15 minutes for the ratios and the speed of answer.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, stat
from grafana_foundation_sdk.models import dashboard as models

from callpulse.dashboards_common import DATASOURCE, big_stat, finish, per_queue, queue_variables
from exporters import catalog

UID = "callpulse-wallboard"
LEGEND = "{{channel}} ({{tenant}})"
WINDOW = 'window="15m"'

WAITING = "Contacts waiting"
LONGEST_WAIT = "Longest wait"
SERVICE_LEVEL = "Service level (15m)"
ABANDON_RATE = "Abandon rate (15m)"
AGENTS_AVAILABLE = "Agents available"
ASA = "ASA (15m)"


def _tiles() -> list[stat.Panel]:
    return [
        big_stat(
            WAITING,
            per_queue(catalog.QUEUE_WAITING.name),
            description="Contacts queued and not yet answered, abandoned or timed out, now.",
            legend=LEGEND,
            unit="none",
            steps=[(None, "green"), (5, "yellow"), (10, "red")],
        ),
        big_stat(
            LONGEST_WAIT,
            per_queue(catalog.QUEUE_LONGEST_WAIT.name),
            description="Age of the oldest contact still waiting; it keeps rising while the caller waits. 0 "
            "when nobody waits. Red from 60 s, the default threshold of alert QueueLongestWaitHigh.",
            legend=LEGEND,
            unit="s",
            steps=[(None, "green"), (30, "yellow"), (60, "red")],
        ),
        big_stat(
            SERVICE_LEVEL,
            per_queue(catalog.QUEUE_SERVICE_LEVEL.name, WINDOW),
            description="Share of the contacts of the last 15 minutes served within the channel's "
            "service-level threshold (CALLPULSE_SERVICE_LEVEL_SECONDS), abandons treated per "
            "CALLPULSE_SERVICE_LEVEL_VARIANT.",
            legend=LEGEND,
            unit="percentunit",
            steps=[(None, "red"), (0.7, "yellow"), (0.8, "green")],
        ),
        big_stat(
            ABANDON_RATE,
            per_queue(catalog.QUEUE_ABANDON_RATIO.name, WINDOW),
            description="Abandoned (and timed out, by configuration) over offered in the last 15 minutes; "
            "short abandons are left out of both.",
            legend=LEGEND,
            unit="percentunit",
            steps=[(None, "green"), (0.05, "yellow"), (0.1, "red")],
        ),
        big_stat(
            AGENTS_AVAILABLE,
            per_queue(catalog.QUEUE_AGENTS.name, 'state="available"'),
            description="Agents whose latest state event puts them available for this queue, now.",
            legend=LEGEND,
            unit="none",
            steps=[(None, "red"), (1, "yellow"), (3, "green")],
        ),
        big_stat(
            ASA,
            per_queue(catalog.QUEUE_ASA.name, WINDOW),
            description="Average speed of answer: mean wait of the contacts answered in the last 15 minutes. "
            "Colours assume the voice service-level threshold (20 s by default).",
            legend=LEGEND,
            unit="s",
            steps=[(None, "green"), (20, "yellow"), (40, "red")],
        ),
    ]


def build() -> models.Dashboard:
    board = (
        dashboard.Dashboard("callpulse wallboard")
        .uid(UID)
        .description("Live queue KPIs for the wall: one row per queue, refreshed every 5 s.")
        .tags(["callpulse"])
        .readonly()
        .time("now-1h", "now")
        .refresh("5s")
        .timepicker(dashboard.TimePicker().refresh_intervals(["5s", "10s", "30s", "1m"]))
        .variables(queue_variables())
        # Rows are added empty and the tiles after them: the SDK's Row.with_panel collapses the row,
        # and a wallboard must show every queue expanded.
        .with_row(dashboard.Row("Queue $queue").repeat("queue").datasource(DATASOURCE))
    )
    for tile in _tiles():
        board = board.with_panel(tile)
    return finish(board.build())
