"""Every metric callpulse exports, declared once: name, type, help, labels, unit, formula, window.

The collector builds its families from these specs and ``docs/metrics.md`` is generated from them
(``python -m exporters.catalog > docs/metrics.md``; a test fails when the file is stale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

QUEUE = ("tenant", "queue", "channel")
WINDOWED = (*QUEUE, "window")
SLIDING = (
    "label `window`: sliding `5m` / `15m` / `1h`, `today` (since local midnight), `interval` (the current "
    "aligned report interval) and `last_interval`; by event time"
)
AGENT = ("tenant", "agent", "window")
LIVE = "now (computed at scrape)"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...]
    unit: str
    formula: str
    window: str


def _windowed(name: str, help_text: str, unit: str, formula: str) -> MetricSpec:
    return MetricSpec(name, "gauge", help_text, WINDOWED, unit, formula, SLIDING)


QUEUE_OFFERED = _windowed(
    "callpulse_queue_offered_contacts",
    "Contacts offered: answered + abandoned (+ timed out, by configuration); short abandons excluded.",
    "contacts",
    "answered + abandoned [+ timed_out]",
)
QUEUE_ANSWERED = _windowed(
    "callpulse_queue_answered_contacts",
    "Contacts answered by an agent.",
    "contacts",
    "count of answered, at answer time",
)
QUEUE_ABANDONED = _windowed(
    "callpulse_queue_abandoned_contacts",
    "Contacts that hung up or left while waiting, short abandons excluded.",
    "contacts",
    "count of abandoned with wait >= short-abandon threshold",
)
QUEUE_SHORT_ABANDONED = _windowed(
    "callpulse_queue_short_abandoned_contacts",
    "Contacts that abandoned within the short-abandon threshold.",
    "contacts",
    "count of abandoned with wait < short-abandon threshold",
)
QUEUE_TIMED_OUT = _windowed(
    "callpulse_queue_timed_out_contacts",
    "Contacts that reached the queue's maximum wait.",
    "contacts",
    "count of timeout events",
)
QUEUE_HANDLED = _windowed(
    "callpulse_queue_handled_contacts", "Contacts answered, ended and wrapped up.", "contacts", "count, at wrap-up end"
)
QUEUE_TRANSFERRED = _windowed(
    "callpulse_queue_transferred_contacts",
    "Contacts transferred out of the queue.",
    "contacts",
    "count, at transfer time",
)
QUEUE_ASA = _windowed(
    "callpulse_queue_answer_speed_seconds",
    "Average speed of answer: mean wait of answered contacts.",
    "seconds",
    "sum(answered_at - queued_at) / answered",
)
QUEUE_MAX_WAIT = _windowed(
    "callpulse_queue_max_wait_seconds",
    "Longest wait of a contact that left the queue (answered, abandoned or timed out).",
    "seconds",
    "max(left_at - queued_at)",
)
QUEUE_ABANDON_RATIO = _windowed(
    "callpulse_queue_abandon_ratio",
    "Abandon rate: abandoned / offered, short abandons excluded from both.",
    "ratio",
    "abandoned [+ timed_out] / offered",
)
QUEUE_SERVICE_LEVEL = _windowed(
    "callpulse_queue_service_level_ratio",
    "Share of contacts served within the channel's service-level threshold, abandons treated per configuration.",
    "ratio",
    "see docs: one of four abandon treatments",
)
QUEUE_AHT = _windowed(
    "callpulse_queue_handle_time_seconds",
    "Average handle time (talk + hold + wrap-up) of handled contacts.",
    "seconds",
    "sum(wrapup_ended_at - answered_at) / handled",
)
QUEUE_TALK = _windowed(
    "callpulse_queue_talk_time_seconds",
    "Average talk time of handled contacts (excluding hold).",
    "seconds",
    "sum(end - answered - hold) / handled",
)
QUEUE_HOLD = _windowed(
    "callpulse_queue_hold_time_seconds",
    "Average hold time of handled contacts.",
    "seconds",
    "sum(hold intervals) / handled",
)
QUEUE_WRAPUP = _windowed(
    "callpulse_queue_wrapup_time_seconds",
    "Average after-contact work of handled contacts.",
    "seconds",
    "sum(wrapup_ended_at - end) / handled",
)
QUEUE_TRANSFER_RATIO = _windowed(
    "callpulse_queue_transfer_ratio", "Transferred / handled.", "ratio", "transferred / handled"
)
QUEUE_AGENT_IDLE = _windowed(
    "callpulse_queue_agent_idle_seconds",
    "Average agent idle time between contacts: time available before taking a contact of this queue.",
    "seconds",
    "sum(on_contact_at - available_at) / gaps",
)

QUEUE_ARRIVED = _windowed(
    "callpulse_queue_arrived_contacts", "Contacts that entered the queue: volume.", "contacts", "count of queued"
)
QUEUE_WAIT = _windowed(
    "callpulse_queue_wait_time_seconds",
    "Average wait of contacts that left the queue (answered, abandoned or timed out).",
    "seconds",
    "sum(left_at - queued_at) / left",
)
QUEUE_FIRST_RESPONSE = _windowed(
    "callpulse_queue_first_response_seconds",
    "Average first response time: first agent reply - contact queued (chat, email, social).",
    "seconds",
    "sum(first_response_at - queued_at) / first responses",
)
QUEUE_RESOLVED = _windowed(
    "callpulse_queue_resolved_contacts", "Contacts resolved.", "contacts", "count of resolved, at resolution time"
)
QUEUE_RESOLUTION = _windowed(
    "callpulse_queue_resolution_time_seconds",
    "Average resolution time: resolved - opened.",
    "seconds",
    "sum(resolved_at - opened_at) / resolved",
)
QUEUE_CSAT = _windowed(
    "callpulse_queue_csat_ratio", "CSAT: share of survey answers 4 or 5 on 1-5.", "ratio", "answers >= 4 / answers"
)
QUEUE_CSAT_SCORE = _windowed("callpulse_queue_csat_score", "Mean CSAT answer on 1-5.", "score", "sum(csat) / answers")
QUEUE_NPS = _windowed(
    "callpulse_queue_nps_score",
    "Net promoter score: % promoters (9-10) - % detractors (0-6), -100 to 100.",
    "score",
    "100 * (promoters - detractors) / answers",
)
QUEUE_FCR = _windowed(
    "callpulse_queue_fcr_ratio",
    "First contact resolution: resolved contacts with no repeat contact of the same customer within "
    "CALLPULSE_FCR_DAYS, as known now, over resolved contacts with a customer id.",
    "ratio",
    "(resolved - repeated) / resolved",
)
QUEUE_CES = _windowed("callpulse_queue_ces_score", "Mean customer effort score answer.", "score", "sum(ces) / answers")
QUEUE_SURVEYS = MetricSpec(
    "callpulse_queue_survey_responses",
    "gauge",
    "Survey answers received, by survey (csat, nps, ces).",
    (*WINDOWED, "survey"),
    "answers",
    "count",
    SLIDING,
)
QUEUE_OCCUPANCY = _windowed(
    "callpulse_queue_agent_occupancy_ratio",
    "Agent occupancy: handling time / (handling time + available idle time), agents working this queue.",
    "ratio",
    "(on_contact + wrapup) / (on_contact + wrapup + available)",
)
QUEUE_UTILIZATION = _windowed(
    "callpulse_queue_agent_utilization_ratio",
    "Agent utilization: handling time / logged-in time, agents working this queue.",
    "ratio",
    "(on_contact + wrapup) / (available + on_contact + wrapup + aux)",
)
QUEUE_AGENT_STATE_TIME = MetricSpec(
    "callpulse_queue_agent_state_seconds",
    "gauge",
    "Time agents spent in each state while working this queue (the current state counted up to the scrape).",
    (*WINDOWED, "state"),
    "seconds",
    "sum of state durations",
    SLIDING,
)
QUEUE_SERVICE_LEVEL_VARIANTS = MetricSpec(
    "callpulse_queue_service_level_variant_ratio",
    "gauge",
    "Service level under each of the four abandon treatments (callpulse_queue_service_level_ratio is the "
    "configured one).",
    (*WINDOWED, "variant"),
    "ratio",
    "see docs: abandons_against, abandons_after_threshold_against, abandons_within_threshold_met, abandons_ignored",
    SLIDING,
)

AGENT_HANDLED = MetricSpec(
    "callpulse_agent_handled_contacts",
    "gauge",
    "Contacts the agent answered, ended and wrapped up.",
    AGENT,
    "contacts",
    "count, at wrap-up end",
    SLIDING,
)
AGENT_AHT = MetricSpec(
    "callpulse_agent_handle_time_seconds",
    "gauge",
    "The agent's average handle time.",
    AGENT,
    "seconds",
    "sum(wrapup_ended_at - answered_at) / handled",
    SLIDING,
)
AGENT_IDLE = MetricSpec(
    "callpulse_agent_idle_seconds",
    "gauge",
    "The agent's average idle time between contacts.",
    AGENT,
    "seconds",
    "sum(on_contact_at - available_at) / gaps",
    SLIDING,
)
AGENT_OCCUPANCY = MetricSpec(
    "callpulse_agent_occupancy_ratio",
    "gauge",
    "The agent's occupancy.",
    AGENT,
    "ratio",
    "(on_contact + wrapup) / (on_contact + wrapup + available)",
    SLIDING,
)
AGENT_UTILIZATION = MetricSpec(
    "callpulse_agent_utilization_ratio",
    "gauge",
    "The agent's utilization.",
    AGENT,
    "ratio",
    "(on_contact + wrapup) / logged-in time",
    SLIDING,
)
AGENT_STATE_TIME = MetricSpec(
    "callpulse_agent_state_seconds",
    "gauge",
    "Time the agent spent in each state.",
    (*AGENT, "state"),
    "seconds",
    "sum of state durations",
    SLIDING,
)
AGENT_FOLDED = MetricSpec(
    "callpulse_agent_series_folded",
    "gauge",
    'Agents beyond CALLPULSE_PER_AGENT_MAX_SERIES whose figures are summed under agent="_other".',
    ("tenant",),
    "agents",
    "count of agents folded",
    LIVE,
)

QUEUE_WAITING = MetricSpec(
    "callpulse_queue_waiting_contacts",
    "gauge",
    "Contacts waiting in the queue now.",
    QUEUE,
    "contacts",
    "queued and not yet answered, abandoned or timed out",
    LIVE,
)
QUEUE_LONGEST_WAIT = MetricSpec(
    "callpulse_queue_longest_wait_seconds",
    "gauge",
    "Age of the oldest contact waiting now; 0 when nobody waits.",
    QUEUE,
    "seconds",
    "now - min(queued_at) over waiting contacts",
    LIVE,
)
QUEUE_AGENTS = MetricSpec(
    "callpulse_queue_agents",
    "gauge",
    "Agents whose latest state event is for this queue, by state.",
    (*QUEUE, "state"),
    "agents",
    "count of agents by current state",
    LIVE,
)
QUEUE_SL_THRESHOLD = MetricSpec(
    "callpulse_queue_service_level_threshold_seconds",
    "gauge",
    "The service-level threshold configured for the channel.",
    ("channel",),
    "seconds",
    "configuration",
    "-",
)

STAFFING = "the sliding window `15m` (arrivals, handle time, patience, by event time); agents as of the scrape"
QUEUE_OFFERED_LOAD = MetricSpec(
    "callpulse_queue_offered_load_erlangs",
    "gauge",
    "Offered load: arrival rate x average handle time over the last 15 minutes; left out when the window has no "
    "arrivals or no handled contacts.",
    QUEUE,
    "erlangs",
    "arrived / seconds covered x handle time / handled",
    STAFFING,
)
QUEUE_AGENTS_REQUIRED = MetricSpec(
    "callpulse_queue_agents_required",
    "gauge",
    "Agents needed to answer 80% of contacts within the channel's service-level threshold, by Erlang C on the "
    "offered load.",
    QUEUE,
    "agents",
    "least N > A with 1 - C(N, A) exp(-(N - A) T / AHT) >= 0.8",
    STAFFING,
)
QUEUE_PREDICTED_SERVICE_LEVEL = MetricSpec(
    "callpulse_queue_predicted_service_level_ratio",
    "gauge",
    "Service level predicted for the offered load with the agents serving now, under the queue's abandon "
    "treatment, by model: erlang_c (0 when agents <= load), erlang_a (with the patience observed; only when "
    "contacts abandoned).",
    (*QUEUE, "model"),
    "ratio",
    "erlang_c: 1 - C(N, A) exp(-(N - A) T / AHT); erlang_a: M/M/N+M (processors/staffing.py)",
    STAFFING,
)
QUEUE_PREDICTED_ANSWER_SPEED = MetricSpec(
    "callpulse_queue_predicted_answer_speed_seconds",
    "gauge",
    "Average speed of answer (mean wait of answered contacts) predicted for the offered load with the agents "
    "serving now, by model (erlang_c, erlang_a); +Inf when no contact would ever be answered (Erlang C with "
    "agents <= load, or no agent).",
    (*QUEUE, "model"),
    "seconds",
    "erlang_c: C(N, A) AHT / (N - A); erlang_a: E[wait; answered] / P(answered)",
    STAFFING,
)
QUEUE_AGENTS_LOGGED_IN = MetricSpec(
    "callpulse_queue_agents_logged_in",
    "gauge",
    "Agents serving the queue now: available, on a contact or in wrap-up (aux and offline left out); an agent "
    "of several queues counts in each.",
    QUEUE,
    "agents",
    "count of agents in states available, on_contact, wrapup",
    LIVE,
)

EVENTS_APPLIED = MetricSpec(
    "callpulse_events_applied_total",
    "counter",
    "Events applied to the figures.",
    ("stream",),
    "events",
    "count",
    "since state began",
)
EVENTS_DUPLICATE = MetricSpec(
    "callpulse_duplicate_events_total",
    "counter",
    "Events skipped because their event id was already applied.",
    ("stream",),
    "events",
    "count",
    "since state began",
)
EVENTS_DEAD_LETTER = MetricSpec(
    "callpulse_dead_letter_events_total",
    "counter",
    "Events sent to the dead-letter topic, by reason.",
    ("stream", "reason"),
    "events",
    "count",
    "since state began",
)
EVENTS_LATE = MetricSpec(
    "callpulse_late_events_total",
    "counter",
    "Events later than the allowed lateness (also dead-lettered).",
    ("stream",),
    "events",
    "count",
    "since state began",
)
CONTACTS_STALE = MetricSpec(
    "callpulse_stale_contacts_evicted_total",
    "counter",
    "Open contacts dropped after no event for the stale-contact time.",
    ("stream",),
    "contacts",
    "count",
    "since state began",
)
STREAM_WATERMARK = MetricSpec(
    "callpulse_stream_watermark_timestamp_seconds",
    "gauge",
    "Newest event time applied, per stream (max over partitions).",
    ("stream",),
    "seconds since epoch",
    "max(event_time)",
    "-",
)
STREAM_PARTITIONS = MetricSpec(
    "callpulse_stream_partitions",
    "gauge",
    "Partitions with state in Redis, per stream.",
    ("stream",),
    "partitions",
    "count",
    "-",
)
REDIS_UP = MetricSpec(
    "callpulse_exporter_redis_up",
    "gauge",
    "1 if the last scrape read Redis, else 0 (and no KPI is served).",
    (),
    "boolean",
    "-",
    LIVE,
)
REBUILDING = MetricSpec(
    "callpulse_rebuilding",
    "gauge",
    "1 while the worker replays Kafka to rebuild partition state Redis lost (no KPI is served meanwhile), else 0.",
    (),
    "boolean",
    "-",
    LIVE,
)
SCRAPE_DURATION = MetricSpec(
    "callpulse_exporter_scrape_duration_seconds",
    "gauge",
    "Time the collector took to read Redis and build the metrics.",
    (),
    "seconds",
    "-",
    LIVE,
)

ALL: tuple[MetricSpec, ...] = tuple(value for value in list(globals().values()) if isinstance(value, MetricSpec))


def render_markdown() -> str:
    """The metrics catalogue page, docs/metrics.md."""
    lines = [
        "# Metrics catalogue",
        "",
        "Generated from `exporters/catalog.py` by `python -m exporters.catalog > docs/metrics.md`; do not edit.",
        "",
        "| name | type | unit | labels | formula | window | help |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in ALL:
        labels = ", ".join(spec.labels) or "-"
        lines.append(
            f"| `{spec.name}` | {spec.kind} | {spec.unit} | {labels} | {spec.formula} | {spec.window} | {spec.help} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
