#!/usr/bin/env python3
"""Writes observability/grafana/dashboards/{pipeline,resources}.json.

The dashboards are generated so that every panel has the same shape, every query uses the
provisioned datasource uids and every metric name is written once here. Edit this file and
run it (python3 observability/grafana/make_dashboards.py); scripts/check-observability fails
when the committed JSON is not what this script writes (it runs it with --check).
"""

import json
import sys
import urllib.parse
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
TEMPO = {"type": "tempo", "uid": "tempo"}

RI = "$__rate_interval"


def explore_url(datasource, query, query_type=None):
    """A link to Grafana Explore running `query`, over the dashboard's time range."""
    q = {"refId": "A", "datasource": datasource, "query": query}
    if query_type:
        q["queryType"] = query_type
    if datasource is LOKI:
        q["expr"] = query
        del q["query"]
    panes = {
        "pdfmill": {
            "datasource": datasource["uid"],
            "queries": [q],
            "range": {"from": "FROM_PLACEHOLDER", "to": "TO_PLACEHOLDER"},
        }
    }
    encoded = urllib.parse.quote(json.dumps(panes, separators=(",", ":")), safe="")
    # Grafana replaces ${__from} and ${__to} in a link before following it; they must stay
    # readable in the URL.
    encoded = encoded.replace("FROM_PLACEHOLDER", "${__from}").replace("TO_PLACEHOLDER", "${__to}")
    return f"/explore?schemaVersion=1&orgId=1&panes={encoded}"


def trace_link(title, traceql):
    return {"title": title, "url": explore_url(TEMPO, traceql, "traceql"), "targetBlank": False}


def logs_link(title, logql):
    return {"title": title, "url": explore_url(LOKI, logql), "targetBlank": False}


class Board:
    def __init__(self, uid, title, description, tags):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_height = 0
        self.next_id = 1

    def _place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self.y += 1

    def timeseries(self, title, description, targets, unit, w=8, h=8, links=(), stack=False, bars=False):
        custom = {
            "drawStyle": "bars" if bars else "line",
            "lineWidth": 1,
            "fillOpacity": 80 if bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        self.panels.append(
            {
                "type": "timeseries",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": PROM,
                "gridPos": self._place(w, h),
                "targets": [
                    {"refId": chr(ord("A") + i), "datasource": PROM, "expr": expr, "legendFormat": legend, "range": True}
                    for i, (expr, legend) in enumerate(targets)
                ],
                "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
                "options": {
                    "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
                "links": list(links),
            }
        )

    def stat(self, title, description, expr, unit, w=4, h=4, links=(), thresholds=None):
        steps = thresholds or [{"color": "green", "value": None}]
        self.panels.append(
            {
                "type": "stat",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": PROM,
                "gridPos": self._place(w, h),
                "targets": [{"refId": "A", "datasource": PROM, "expr": expr, "instant": True, "range": False}],
                "fieldConfig": {
                    "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                    "overrides": [],
                },
                "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value", "graphMode": "none"},
                "links": list(links),
            }
        )

    def traces(self, title, description, traceql, w=12, h=8):
        self.panels.append(
            {
                "type": "table",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": TEMPO,
                "gridPos": self._place(w, h),
                "targets": [
                    {"refId": "A", "datasource": TEMPO, "queryType": "traceql", "query": traceql, "limit": 20, "tableType": "traces"}
                ],
                "fieldConfig": {"defaults": {}, "overrides": []},
                "options": {"showHeader": True},
            }
        )

    def logs(self, title, description, logql, w=12, h=8):
        self.panels.append(
            {
                "type": "logs",
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": LOKI,
                "gridPos": self._place(w, h),
                "targets": [{"refId": "A", "datasource": LOKI, "expr": logql, "queryType": "range"}],
                "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending", "enableLogDetails": True},
            }
        )

    def json(self):
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "schemaVersion": 41,
            "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": []},
            "annotations": {"list": []},
            "links": [
                {"title": "Pipeline", "type": "link", "url": "/d/pdfmill-pipeline", "icon": "dashboard"},
                {"title": "Resources", "type": "link", "url": "/d/pdfmill-resources", "icon": "dashboard"},
            ],
            "panels": self.panels,
        }


def quantiles(metric, by="", selector="", qs=(0.5, 0.95, 0.99), legend_prefix=""):
    by_clause = f"le, {by}" if by else "le"
    legend_by = " ".join("{{" + label.strip() + "}}" for label in by.split(",") if label.strip())
    return [
        (
            f"histogram_quantile({q}, sum by ({by_clause}) (rate({metric}_bucket{selector}[{RI}])))",
            f"{legend_prefix}p{int(q * 100)} {legend_by}".strip(),
        )
        for q in qs
    ]


SLOW_JOBS = trace_link("Slow jobs (traces over 2 s) in Tempo", "{ trace:duration > 2s }")
ERROR_TRACES = trace_link("Error traces in Tempo", "{ status = error }")
CONVERT_SPANS = trace_link("Slowest convert spans in Tempo", '{ resource.service.name = "pdfmill-convert" && kind = consumer } | duration > 1s')
EMAIL_SPANS = trace_link("Slowest email spans in Tempo", '{ resource.service.name = "pdfmill-email" && kind = consumer } | duration > 1s')
ERROR_LOGS = logs_link("Error and warning logs in Loki", '{job="pdfmill", level=~"ERROR|WARN"}')


def pipeline():
    b = Board(
        "pdfmill-pipeline",
        "pdfmill / Pipeline",
        "Is pdfmill keeping up, where do jobs wait, and what fails? Throughput, job latency, "
        "backlog per consumer, errors, redeliveries, dead letters and emails.",
        ["pdfmill"],
    )
    b.row("Now")
    b.stat("Jobs submitted (1 h)", "Jobs accepted by ingress (HTTP) or the CLI in the last hour.",
           "sum(increase(pdfmill_jobs_submitted_total[1h]))", "short")
    b.stat("PDFs made (1 h)", "Conversions that succeeded in the last hour.",
           'sum(increase(pdfmill_conversions_total{outcome="success"}[1h]))', "short")
    b.stat("Emails sent (1 h)", "Emails handed to the SMTP server in the last hour.",
           'sum(increase(pdfmill_emails_total{outcome="sent"}[1h]))', "short")
    b.stat("p95 time to PDF (5 m)", "95th percentile of submission → PDF stored, last 5 minutes.",
           'histogram_quantile(0.95, sum by (le) (rate(pdfmill_job_latency_seconds_bucket{stage="converted"}[5m])))', "s",
           links=[SLOW_JOBS],
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 10}, {"color": "red", "value": 30}])
    b.stat("Conversion failures (15 m)", "Share of conversion attempts that did not succeed, last 15 minutes.",
           'sum(rate(pdfmill_conversions_total{outcome!="success"}[15m])) / sum(rate(pdfmill_conversions_total[15m]))', "percentunit",
           links=[ERROR_TRACES],
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.01}, {"color": "red", "value": 0.05}])
    b.stat("Dead letters (24 h)", "Messages given up on and parked in the DLQ stream in the last 24 hours.",
           "sum(increase(pdfmill_dead_letters_total[24h]))", "short",
           links=[ERROR_TRACES],
           thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}])

    b.row("Throughput")
    b.timeseries("Jobs submitted", "Jobs per second by where they came from.",
                 [(f"sum by (source) (rate(pdfmill_jobs_submitted_total[{RI}]))", "{{source}}")], "ops")
    b.timeseries("Conversions by outcome", "Conversion attempts per second; everything but success is a failure (retry = transient, will be tried again).",
                 [(f"sum by (outcome) (rate(pdfmill_conversions_total[{RI}]))", "{{outcome}}")], "ops", stack=True)
    b.timeseries("Emails by template and outcome", "Email attempts per second (duplicate = already sent, skipped by the ledger).",
                 [(f"sum by (template, outcome) (rate(pdfmill_emails_total[{RI}]))", "{{template}} {{outcome}}")], "ops", stack=True)
    b.timeseries("Messages by subject and outcome", "What every consumer did with its NATS messages: ack, nak (redelivered later) or dead_letter.",
                 [(f"sum by (subject, outcome) (rate(pdfmill_messages_total[{RI}]))", "{{subject}} {{outcome}}")], "ops", w=12)
    b.timeseries("Processing time per message (p95)", "Time from receiving a message to acking it, by subject.",
                 quantiles("pdfmill_message_processing_seconds", by="subject", qs=(0.95,)), "s", w=12,
                 links=[CONVERT_SPANS, EMAIL_SPANS])

    b.row("Latency")
    b.timeseries("Job latency: submitted → PDF stored", "p50, p95, p99 of the time from submission to the PDF being stored (includes waiting in CONVERT).",
                 quantiles("pdfmill_job_latency_seconds", selector='{stage="converted"}'), "s", links=[SLOW_JOBS])
    b.timeseries("Job latency: submitted → emailed", "p50, p95, p99 of the time from submission to the email being sent.",
                 quantiles("pdfmill_job_latency_seconds", selector='{stage="emailed"}'), "s", links=[SLOW_JOBS])
    b.timeseries("Conversion duration", "p50, p95, p99 of one conversion (fetch, convert, store) in a convert worker.",
                 quantiles("pdfmill_conversion_duration_seconds"), "s", links=[CONVERT_SPANS])
    b.timeseries("SMTP send duration", "p50, p95, p99 of one SMTP transaction.",
                 quantiles("pdfmill_smtp_send_duration_seconds"), "s", links=[EMAIL_SPANS])
    b.timeseries("Images and PDFs", "Median and p95 input (image) and output (PDF) sizes.",
                 quantiles("pdfmill_conversion_input_bytes", qs=(0.5, 0.95), legend_prefix="input ")
                 + quantiles("pdfmill_conversion_output_bytes", qs=(0.5, 0.95), legend_prefix="output "), "bytes")
    b.timeseries("Pages per job and output/input ratio", "p95 pages per PDF, and bytes out per byte in (1 = copied as is).",
                 quantiles("pdfmill_conversion_pages", qs=(0.95,), legend_prefix="pages ")
                 + [(f"sum(rate(pdfmill_conversion_output_bytes_sum[{RI}])) / sum(rate(pdfmill_conversion_input_bytes_sum[{RI}]))", "output / input bytes")],
                 "short")

    b.row("Backlog")
    b.timeseries("Pending per consumer", "Messages waiting to be delivered, per JetStream consumer. Rising = add workers of that role.",
                 [("max by (stream, consumer) (pdfmill_consumer_pending_messages)", "{{stream}}/{{consumer}}")], "short")
    b.timeseries("In flight per consumer", "Delivered, not yet acknowledged (bounded by max_ack_pending: convert 64, email 256).",
                 [("max by (stream, consumer) (pdfmill_consumer_ack_pending_messages)", "{{stream}}/{{consumer}}")], "short")
    b.timeseries("Redelivered per consumer", "Messages currently on their second or later delivery, per consumer.",
                 [("max by (stream, consumer) (pdfmill_consumer_redelivered_messages)", "{{stream}}/{{consumer}}")], "short")

    b.row("Errors, redeliveries, dead letters")
    b.timeseries("Conversion failures by class", "Failed conversion attempts per second by outcome: corrupt, unsupported, too_large, invalid_request (bad input) and retry (transient).",
                 [(f'sum by (outcome) (rate(pdfmill_conversions_total{{outcome!="success"}}[{RI}]))', "{{outcome}}")], "ops",
                 stack=True, links=[ERROR_TRACES, ERROR_LOGS])
    b.timeseries("Email failures", "Email attempts that will be retried or were rejected by the SMTP server.",
                 [(f'sum by (template, outcome) (rate(pdfmill_emails_total{{outcome=~"retry|rejected"}}[{RI}]))', "{{template}} {{outcome}}")], "ops",
                 stack=True, links=[ERROR_TRACES, ERROR_LOGS])
    b.timeseries("Redeliveries", "Messages delivered again (nak, ack timeout, worker crash), per second by subject.",
                 [(f"sum by (subject) (rate(pdfmill_redeliveries_total[{RI}]))", "{{subject}}")], "ops", links=[ERROR_TRACES])
    b.timeseries("Dead letters", "Messages moved to the DLQ stream, by subject and error class (count per interval).",
                 [(f"sum by (subject, class) (increase(pdfmill_dead_letters_total[{RI}]))", "{{subject}} {{class}}")], "short",
                 w=12, bars=True, links=[ERROR_TRACES, ERROR_LOGS])
    b.timeseries("Naks and dead letters by subject", "Messages not acknowledged, per second.",
                 [(f'sum by (subject, outcome) (rate(pdfmill_messages_total{{outcome!="ack"}}[{RI}]))', "{{subject}} {{outcome}}")], "ops",
                 w=12, links=[ERROR_TRACES])

    b.row("Traces and logs")
    b.traces("Error traces", "Jobs with an error on any span (the collector keeps all of them). Click a trace id to open it.",
             "{ status = error }")
    b.traces("Slow jobs", "Traces over 2 s (the collector keeps all of them).", "{ trace:duration > 2s }")
    b.logs("Errors and warnings", "pdfmill log lines at WARN or ERROR; a line's trace_id opens its trace.",
           '{job="pdfmill", level=~"ERROR|WARN"}', w=24)
    return b.json()


def resources():
    sel = '{job=~"pdfmill-.+"}'
    b = Board(
        "pdfmill-resources",
        "pdfmill / Resources",
        "What does each role use, is the load spread over the replicas, and how does the HTTP API answer?",
        ["pdfmill"],
    )
    b.row("Per process")
    b.timeseries("CPU", "CPU cores used by each process (1 = one core busy).",
                 [(f"sum by (job, instance) (rate(process_cpu_seconds_total{sel}[{RI}]))", "{{job}} {{instance}}")], "short")
    b.timeseries("Memory (resident)", "Resident set size of each process.",
                 [(f"max by (job, instance) (process_resident_memory_bytes{sel})", "{{job}} {{instance}}")], "bytes")
    b.timeseries("Open file descriptors", "Sockets and files each process holds.",
                 [(f"max by (job, instance) (process_open_fds{sel})", "{{job}} {{instance}}")], "short")

    b.row("Load balance and efficiency")
    b.timeseries("Messages handled per process", "Messages per second each process acknowledged, naked or dead-lettered; replicas of a role should be even.",
                 [(f"sum by (job, instance) (rate(pdfmill_messages_total[{RI}]))", "{{job}} {{instance}}")], "ops")
    b.timeseries("Processing time per process (p95)", "p95 time from receiving a message to acking it, per process.",
                 quantiles("pdfmill_message_processing_seconds", by="job, instance", qs=(0.95,)), "s",
                 links=[CONVERT_SPANS, EMAIL_SPANS])
    b.timeseries("PDFs per CPU-second", "Successful conversions per second of convert-worker CPU: the capacity of one core.",
                 [(f'sum(rate(pdfmill_conversions_total{{outcome="success"}}[{RI}])) / sum(rate(process_cpu_seconds_total{{job="pdfmill-convert"}}[{RI}]))', "PDFs per CPU-second")], "short")

    b.row("HTTP API (ingress)")
    b.timeseries("Requests by route and status", "Requests per second.",
                 [(f"sum by (method, route, status) (rate(pdfmill_http_requests_total[{RI}]))", "{{method}} {{route}} {{status}}")], "reqps", stack=True)
    b.timeseries("Request duration by route", "p50, p95, p99 per route.",
                 quantiles("pdfmill_http_request_duration_seconds", by="method, route"), "s",
                 links=[trace_link("Slow requests in Tempo", '{ resource.service.name = "pdfmill-ingress" && kind = server } | duration > 500ms')])
    b.timeseries("Server errors", "Share of requests answered 5xx.",
                 [(f'sum(rate(pdfmill_http_requests_total{{status=~"5.."}}[{RI}])) / sum(rate(pdfmill_http_requests_total[{RI}]))', "5xx share")], "percentunit",
                 links=[ERROR_TRACES, ERROR_LOGS])
    return b.json()


BOARDS = {"pipeline.json": pipeline, "resources.json": resources}


def render(make):
    return json.dumps(make(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, make in BOARDS.items():
        path = OUT / name
        text = render(make)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("stale dashboards (run python3 observability/grafana/make_dashboards.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
