#!/usr/bin/env python3
"""Cross-checks compose/, observability/ and the metric names pdfmill exports.

Run by scripts/check-observability (with PyYAML from .tools/venv). Checks that:

- every port a service exposes or publishes is one its process listens on, and every
  host:port that something points at (Prometheus targets, the roles' NATS, S3, SMTP and OTLP
  URLs, the collector's exporter, Tempo's remote write, Promtail's Loki, Grafana's
  datasources, the NATS exporters) is a compose service listening on that port;
- each pdfmill role's processes are scraped by the job named after the role
  (pdfmill-ingress, pdfmill-convert, pdfmill-email), each NATS node by one exporter of job nats;
- bind-mounted files exist, and each service's config file is one of them;
- the Grafana datasources have the fixed uids, every uid a dashboard or a datasource link
  uses is provisioned, and the dashboards folder is the one compose mounts;
- every PromQL expression of the dashboards, the datasource links and the alert rules names
  only metrics pdfmill (or Prometheus, for `up` in alerts) exports; dashboard expressions
  also parse (promtool check rules on a scratch rule file, when --promtool is given);
- TraceQL links name real service.name values; LogQL queries use the labels Promtail sets.

Prints the metric names each dashboard uses; exits 1 listing every mismatch.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
OBS = ROOT / "observability"

# What the services export (the contract with workers/*; keep in step with the Rust side).
COUNTERS = {
    "pdfmill_jobs_submitted_total",
    "pdfmill_conversions_total",
    "pdfmill_emails_total",
    "pdfmill_messages_total",
    "pdfmill_redeliveries_total",
    "pdfmill_dead_letters_total",
    "pdfmill_http_requests_total",
    "process_cpu_seconds_total",
}
HISTOGRAMS = {
    "pdfmill_conversion_duration_seconds",
    "pdfmill_conversion_input_bytes",
    "pdfmill_conversion_output_bytes",
    "pdfmill_conversion_pages",
    "pdfmill_smtp_send_duration_seconds",
    "pdfmill_message_processing_seconds",
    "pdfmill_job_latency_seconds",
    "pdfmill_http_request_duration_seconds",
}
GAUGES = {
    "pdfmill_consumer_pending_messages",
    "pdfmill_consumer_ack_pending_messages",
    "pdfmill_consumer_redelivered_messages",
    "process_resident_memory_bytes",
    "process_open_fds",
}
EXPORTED = COUNTERS | GAUGES | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}
SYNTHETIC = {"up"}  # made by Prometheus for every target: fine in alerts, absent from a scrape

ROLES = {"ingress": "pdfmill-ingress", "convert": "pdfmill-convert", "email": "pdfmill-email"}
DATASOURCE_UIDS = {"prometheus": "prometheus", "loki": "loki", "tempo": "tempo"}  # uid -> type

# Ports of images whose configuration is not in this repository (their documented defaults).
IMAGE_PORTS = {
    "prom/prometheus": {9090},
    "grafana/grafana": {3000},
    "axllent/mailpit": {1025, 8025},
    "minio/mc": set(),
}

# Grafana variables, replaced by something PromQL parses before checking.
GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${__range}": "1h",
    "$__tags": 'job="pdfmill-convert"',
}

PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max",
    "clamp_min", "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
    "double_exponential_smoothing", "hour", "idelta", "increase", "irate", "label_join",
    "label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
    "min_over_time", "minute", "month", "predict_linear", "present_over_time", "quantile_over_time",
    "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label",
    "sort_by_label_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "time",
    "timestamp", "vector", "year", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
    "tanh", "asinh", "acosh", "atanh", "deg", "rad", "pi",
    # aggregations
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
}
PROMQL_KEYWORDS = AGGREGATIONS | {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan", "atan2", "start", "end",
}


class Checker:
    def __init__(self):
        self.errors = []

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_of(service):
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def port_of(addr):
    m = re.search(r":(\d+)$", addr.strip())
    return int(m.group(1)) if m else None


def image_name(service):
    return service.get("image", "").rsplit(":", 1)[0] if ":" in service.get("image", "") else service.get("image", "")


def mounts(service):
    """(host path or volume name, container path) of each volume entry."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            src, dst = v.get("source", ""), v.get("target", "")
        else:
            parts = v.split(":")
            src, dst = parts[0], parts[1]
        if src.startswith(".") or src.startswith("/"):
            src = (COMPOSE_FILE.parent / src).resolve() if src.startswith(".") else Path(src)
        out.append((src, dst))
    return out


def host_path(service, container_path):
    """The repository file that a container path of this service is, through a bind mount."""
    best = None
    for src, dst in mounts(service):
        if not isinstance(src, Path):
            continue
        if container_path == dst or container_path.startswith(dst.rstrip("/") + "/"):
            if best is None or len(dst) > len(best[1]):
                best = (src, dst)
    if best is None:
        return None
    src, dst = best
    rest = container_path[len(dst):].lstrip("/")
    return src / rest if rest else src


def flag_value(args, *names):
    for i, a in enumerate(args):
        for n in names:
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
            if a == n and i + 1 < len(args):
                return args[i + 1]
    return None


# --- listening ports ----------------------------------------------------------------------

def nats_conf_ports(path):
    text = Path(path).read_text()
    ports = set()
    for key in ("listen", "http"):
        for m in re.finditer(rf"^\s*{key}\s*:\s*\"?[\w.]*:(\d+)", text, re.M):
            ports.add(int(m.group(1)))
    return ports


def otel_ports(cfg):
    ports = set()
    for rcv in (cfg.get("receivers") or {}).values():
        for proto in ((rcv or {}).get("protocols") or {}).values():
            if proto and port_of(proto.get("endpoint", "")):
                ports.add(port_of(proto["endpoint"]))
    for ext in (cfg.get("extensions") or {}).values():
        if ext and port_of(ext.get("endpoint", "") or ""):
            ports.add(port_of(ext["endpoint"]))
    readers = (((cfg.get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get("readers") or []
    for r in readers:
        prom = ((r.get("pull") or {}).get("exporter") or {}).get("prometheus") or {}
        if "port" in prom:
            ports.add(int(prom["port"]))
    return ports


def listening_ports(c, name, svc):
    """The ports the service's process listens on, from its own config where we have it."""
    image = image_name(svc)
    args = command_of(svc)
    env = env_of(svc)
    where = f"compose service {name}"

    def config_file(flag):
        path = flag_value(args, flag)
        if path is None:
            c.error(where, f"no {flag} in its command")
            return None
        hp = host_path(svc, path)
        if hp is None or not hp.is_file():
            c.error(where, f"{flag}={path} is not a file mounted from the repository")
            return None
        return hp

    if image == "pdfmill":
        ports = {port_of(env[k]) for k in ("PDFMILL_HTTP_ADDR", "PDFMILL_METRICS_ADDR") if k in env}
        ports.discard(None)
        if not ports:
            c.error(where, "a pdfmill role with neither PDFMILL_HTTP_ADDR nor PDFMILL_METRICS_ADDR")
        return ports
    if image == "nats":
        hp = config_file("-c")
        return nats_conf_ports(hp) if hp else set()
    if image.endswith("prometheus-nats-exporter"):
        p = flag_value(args, "-port", "-p")
        return {int(p)} if p else {7777}
    if image.endswith("opentelemetry-collector-contrib"):
        hp = config_file("--config")
        return otel_ports(load_yaml(hp)) if hp else set()
    if image == "grafana/tempo":
        hp = config_file("-config.file")
        if not hp:
            return set()
        cfg = load_yaml(hp)
        ports = {int(cfg.get("server", {}).get("http_listen_port", 3200))}
        return ports | otel_ports({"receivers": (cfg.get("distributor") or {}).get("receivers") or {}})
    if image in ("grafana/loki", "grafana/promtail"):
        hp = config_file("-config.file")
        if not hp:
            return set()
        server = load_yaml(hp).get("server") or {}
        return {int(server[k]) for k in ("http_listen_port", "grpc_listen_port") if server.get(k)}
    if image == "minio/minio":
        console = flag_value(args, "--console-address")
        return {9000} | ({port_of(console)} if console else set())
    if image in IMAGE_PORTS:
        return set(IMAGE_PORTS[image])
    c.error(where, f"image {svc.get('image')!r}: which ports it listens on is unknown to this check")
    return set()


def declared_ports(svc):
    ports = set()
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].split(":")[-1]))
    for p in svc.get("expose") or []:
        ports.add(int(str(p).split("/")[0]))
    return ports


# --- the checks -----------------------------------------------------------------------------

def check_compose(c, compose):
    services = compose["services"]
    listening = {name: listening_ports(c, name, svc) for name, svc in services.items()}

    for name, svc in services.items():
        where = f"compose service {name}"
        image = svc.get("image", "")
        if ":" not in image or image.endswith(":latest"):
            c.error(where, f"image {image!r} is not pinned to a tag")
        for p in sorted(declared_ports(svc) - listening[name]):
            c.error(where, f"exposes or publishes port {p}, but listens on {sorted(listening[name])}")
        for src, dst in mounts(svc):
            if isinstance(src, Path) and src.is_relative_to(ROOT) and not src.exists():
                c.error(where, f"bind mount source {src} does not exist")
            elif not isinstance(src, Path) and src not in (compose.get("volumes") or {}):
                c.error(where, f"named volume {src!r} is not declared under volumes:")
        for test in [(svc.get("healthcheck") or {}).get("test") or []]:
            if "pdfmill-healthcheck" in test:
                port = int(test[test.index("pdfmill-healthcheck") + 1])
                if port not in listening[name]:
                    c.error(where, f"health check probes port {port}, but the process listens on {sorted(listening[name])}")
    return services, listening


def check_endpoint(c, where, url, services, listening, default_ports=None):
    parsed = urllib.parse.urlsplit(url if "://" in url else "//" + url)
    host, port = parsed.hostname, parsed.port
    if port is None and default_ports:
        port = default_ports.get(parsed.scheme)
    if host not in services:
        c.error(where, f"{url}: {host!r} is not a compose service")
    elif port not in listening[host]:
        c.error(where, f"{url}: {host} does not listen on {port} (it listens on {sorted(listening[host])})")


def check_references(c, services, listening):
    for name, svc in services.items():
        where = f"compose service {name}"
        env = env_of(svc)
        for key in ("PDFMILL_NATS_URL", "AWS_ENDPOINT_URL", "PDFMILL_EMAIL_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            for url in filter(None, env.get(key, "").split(",")):
                check_endpoint(c, f"{where} {key}", url, services, listening,
                               {"nats": 4222, "smtp": 25, "http": 80, "https": 443})
        if image_name(svc) == "pdfmill" and env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").endswith(":4317"):
            c.error(where, "OTEL_EXPORTER_OTLP_ENDPOINT points at the gRPC port; pdfmill speaks OTLP/HTTP (4318)")
        # URLs inside commands (the bucket creation, the NATS exporters)
        for url in re.findall(r"https?://[\w.-]+:\d+", " ".join(command_of(svc))):
            check_endpoint(c, f"{where} command", url, services, listening)

    def config(service, flag):
        hp = host_path(services[service], flag_value(command_of(services[service]), flag) or "")
        return load_yaml(hp) if hp and hp.is_file() else {}

    by_image = {image_name(s): n for n, s in services.items()}
    if "otel/opentelemetry-collector-contrib" in by_image:
        n = by_image["otel/opentelemetry-collector-contrib"]
        for ename, exp in (config(n, "--config").get("exporters") or {}).items():
            if exp and "endpoint" in exp:
                check_endpoint(c, f"otel-collector exporter {ename}", exp["endpoint"], services, listening)
    if "grafana/tempo" in by_image:
        tempo = config(by_image["grafana/tempo"], "-config.file")
        for rw in ((tempo.get("metrics_generator") or {}).get("storage") or {}).get("remote_write") or []:
            check_endpoint(c, "tempo remote_write", rw["url"], services, listening)
    if "grafana/promtail" in by_image:
        for client in config(by_image["grafana/promtail"], "-config.file").get("clients") or []:
            check_endpoint(c, "promtail client", client["url"], services, listening)


def check_prometheus(c, services, listening):
    prom_svc = next((n for n, s in services.items() if image_name(s) == "prom/prometheus"), None)
    if prom_svc is None:
        c.error("compose", "no prom/prometheus service")
        return
    cfg_path = host_path(services[prom_svc], flag_value(command_of(services[prom_svc]), "--config.file") or "")
    if cfg_path != OBS / "prometheus" / "prometheus.yml":
        c.error(f"compose service {prom_svc}", f"--config.file is {cfg_path}, not observability/prometheus/prometheus.yml")
    cfg = load_yaml(OBS / "prometheus" / "prometheus.yml")
    for rf in cfg.get("rule_files") or []:
        if not (OBS / "prometheus" / rf).is_file():
            c.error("prometheus.yml", f"rule file {rf} does not exist")

    jobs = {}
    for sc in cfg.get("scrape_configs") or []:
        targets = [t for st in sc.get("static_configs") or [] for t in st.get("targets") or []]
        jobs[sc["job_name"]] = targets
        for t in targets:
            host, _, port = t.rpartition(":")
            host = prom_svc if host == "localhost" else host
            check_endpoint(c, f"prometheus job {sc['job_name']}", f"{host}:{port}", services, listening)

    # every pdfmill process is scraped by its role's job, and nothing else is in those jobs
    expected = {job: set() for job in ROLES.values()}
    for name, svc in services.items():
        if image_name(svc) != "pdfmill":
            continue
        args = command_of(svc)
        role = args[1] if args[:1] == ["worker"] and len(args) > 1 else (args[0] if args else None)
        if role not in ROLES:
            c.error(f"compose service {name}", f"unknown pdfmill role in command {args}")
            continue
        env = env_of(svc)
        port = port_of(env.get("PDFMILL_METRICS_ADDR") or env.get("PDFMILL_HTTP_ADDR") or "")
        expected[ROLES[role]].add(f"{name}:{port}")
    for job, targets in expected.items():
        if not targets:
            c.error("compose", f"no service runs the role of job {job}")
        if set(jobs.get(job, [])) != targets:
            c.error("prometheus.yml", f"job {job} scrapes {sorted(jobs.get(job, []))}, compose runs {sorted(targets)}")
    if len(expected["pdfmill-convert"]) < 2:
        c.error("compose", "fewer than 2 convert workers")

    # every NATS node has one exporter, every exporter is in job nats
    nats_nodes = {n for n, s in services.items() if image_name(s) == "nats"}
    exporters = {}
    for n, s in services.items():
        if image_name(s).endswith("prometheus-nats-exporter"):
            urls = [a for a in command_of(s) if "://" in a]
            exporters[n] = {urllib.parse.urlsplit(u).hostname for u in urls}
            p = flag_value(command_of(s), "-port", "-p") or "7777"
            if f"{n}:{p}" not in jobs.get("nats", []):
                c.error("prometheus.yml", f"job nats does not scrape {n}:{p}")
    covered = set().union(*exporters.values()) if exporters else set()
    for node in sorted(nats_nodes - covered):
        c.error("compose", f"NATS node {node} has no prometheus-nats-exporter")
    if len(nats_nodes) != 3:
        c.error("compose", f"{len(nats_nodes)} NATS nodes, not 3")


def metric_names(expr):
    """Metric names in a PromQL expression (label matchers, strings, ranges and grouping
    clauses removed first, then every identifier that is not a function or a keyword)."""
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\{[^{}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if word.lower() in PROMQL_KEYWORDS or (call and word in PROMQL_FUNCTIONS):
            continue
        if call:
            raise ValueError(f"unknown function {word}()")
        names.add(word)
    return names


def check_expr(c, where, expr, allowed):
    try:
        names = metric_names(expr)
    except ValueError as e:
        c.error(where, f"{e} in {expr!r}")
        return set()
    if not names:
        c.error(where, f"no metric in {expr!r}")
    for n in sorted(names - allowed):
        c.error(where, f"{n} is not a metric pdfmill exports (in {expr!r})")
    return names


def walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def check_grafana(c, services, listening, promql_for_promtool):
    grafana = next((n for n, s in services.items() if image_name(s) == "grafana/grafana"), None)
    if grafana is None:
        c.error("compose", "no grafana/grafana service")
        return {}
    gsvc = services[grafana]
    if host_path(gsvc, "/etc/grafana/provisioning") != OBS / "grafana" / "provisioning":
        c.error(f"compose service {grafana}", "observability/grafana/provisioning is not mounted at /etc/grafana/provisioning")

    ds_cfg = load_yaml(OBS / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    datasources = {d["uid"]: d for d in ds_cfg.get("datasources") or []}
    for uid, typ in DATASOURCE_UIDS.items():
        if uid not in datasources:
            c.error("datasources.yml", f"no datasource with uid {uid}")
        elif datasources[uid]["type"] != typ:
            c.error("datasources.yml", f"datasource {uid} has type {datasources[uid]['type']}, not {typ}")
    for uid, d in datasources.items():
        check_endpoint(c, f"datasource {uid} url", d["url"], services, listening)
        for path, node in walk(d.get("jsonData") or {}):
            if "datasourceUid" in node and node["datasourceUid"] not in datasources:
                c.error("datasources.yml", f"{uid}{path}: datasourceUid {node['datasourceUid']!r} is not provisioned")
        for i, q in enumerate(((d.get("jsonData") or {}).get("tracesToMetrics") or {}).get("queries") or []):
            expr = q["query"].replace("$$", "$")
            check_expr(c, f"datasources.yml {uid} tracesToMetrics query {i}", expr, EXPORTED)
            promql_for_promtool.append((f"datasource {uid} tracesToMetrics {i}", expr))
    to_logs = ((datasources.get("tempo") or {}).get("jsonData") or {}).get("tracesToLogsV2") or {}
    if to_logs.get("datasourceUid") != "loki" or "trace_id" not in to_logs.get("query", ""):
        c.error("datasources.yml", "tempo tracesToLogsV2 must query loki by trace_id")
    loki_links = ((datasources.get("loki") or {}).get("jsonData") or {}).get("derivedFields") or []
    if not any(f.get("datasourceUid") == "tempo" and "trace_id" in f.get("matcherRegex", "") for f in loki_links):
        c.error("datasources.yml", "loki has no derived field from trace_id to tempo")
    exemplars = ((datasources.get("prometheus") or {}).get("jsonData") or {}).get("exemplarTraceIdDestinations") or []
    if not any(e.get("datasourceUid") == "tempo" for e in exemplars):
        c.error("datasources.yml", "prometheus has no exemplar link to tempo")

    db_cfg = load_yaml(OBS / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")
    for p in db_cfg.get("providers") or []:
        container = (p.get("options") or {}).get("path", "")
        if host_path(gsvc, container) != OBS / "grafana" / "dashboards":
            c.error("dashboards.yml", f"provider {p['name']}: {container} is not where compose mounts observability/grafana/dashboards")
    home = env_of(gsvc).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and not (host_path(gsvc, home) or Path("/nonexistent")).is_file():
        c.error(f"compose service {grafana}", f"home dashboard {home} is not a mounted file")

    service_names = set(ROLES.values())
    used = {}
    dashboards = sorted((OBS / "grafana" / "dashboards").glob("*.json"))
    if {d.name for d in dashboards} < {"pipeline.json", "resources.json"}:
        c.error("dashboards", "pipeline.json and resources.json are both required")
    for path in dashboards:
        board = json.loads(path.read_text())
        where = f"dashboards/{path.name}"
        names = set()
        for jpath, node in walk(board):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") not in datasources:
                c.error(where, f"{jpath}: datasource uid {ds.get('uid')!r} is not provisioned")
            if isinstance(ds, str):
                c.error(where, f"{jpath}: datasource given by name {ds!r}; use {{type, uid}}")
            if "url" in node and "/explore?" in str(node["url"]):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(node["url"]).query)
                panes = json.loads(query["panes"][0].replace("${__from}", "0").replace("${__to}", "0"))
                for pane in panes.values():
                    if pane["datasource"] not in datasources:
                        c.error(where, f"{jpath}: link to datasource {pane['datasource']!r}, not provisioned")
                    for q in pane["queries"]:
                        check_traceql_or_logql(c, f"{where} {jpath} link", q.get("query") or q.get("expr"), service_names)
        for panel in board.get("panels") or []:
            for t in panel.get("targets") or []:
                uid = (t.get("datasource") or panel.get("datasource") or {}).get("uid")
                pw = f"{where} panel {panel.get('title')!r}"
                if uid == "prometheus":
                    names |= check_expr(c, pw, t["expr"], EXPORTED)
                    promql_for_promtool.append((pw, t["expr"]))
                elif uid in ("tempo", "loki"):
                    check_traceql_or_logql(c, pw, t.get("query") or t.get("expr"), service_names)
        used[path.name] = names
    return used


def check_traceql_or_logql(c, where, query, service_names):
    for name in re.findall(r'resource\.service\.name\s*=\s*"([^"]+)"', query or ""):
        if name not in service_names:
            c.error(where, f"service.name {name!r} is not a pdfmill role ({sorted(service_names)})")
    for label, value in re.findall(r'\b(job|service)\s*=\s*"([^"]+)"', query or ""):
        if label == "job" and value != "pdfmill":
            c.error(where, f'Loki job {value!r}: promtail labels the pdfmill roles job="pdfmill"')


def check_promtail(c, services):
    cfg = load_yaml(OBS / "promtail.yaml")
    pdfmill_services = {n for n, s in services.items() if image_name(s) == "pdfmill"}
    rules = [r for sc in cfg.get("scrape_configs") or [] for r in sc.get("relabel_configs") or []
             if r.get("target_label") == "job" and r.get("replacement") == "pdfmill"]
    if not rules:
        c.error("promtail.yaml", 'no relabel rule sets job="pdfmill"')
        return
    regex = re.compile(rules[0]["regex"])
    for n in services:
        if bool(regex.fullmatch(n)) != (n in pdfmill_services):
            c.error("promtail.yaml", f"job=\"pdfmill\" regex {regex.pattern!r} {'misses' if n in pdfmill_services else 'catches'} service {n}")
    stages = json.dumps(cfg)
    if '"labels": {"level"' not in stages or '"structured_metadata": {"trace_id"' not in stages:
        c.error("promtail.yaml", "level must be a label and trace_id structured metadata")


def check_alerts(c):
    rules = load_yaml(OBS / "prometheus" / "alerts.yml")
    names = set()
    for g in rules.get("groups") or []:
        for r in g.get("rules") or []:
            check_expr(c, f"alerts.yml {r.get('alert') or r.get('record')}", r["expr"], EXPORTED | SYNTHETIC)
            names.add(r.get("alert"))
    tests = load_yaml(OBS / "prometheus" / "alerts_test.yml")
    tested = {t["alertname"] for test in tests.get("tests") or [] for t in test.get("alert_rule_test") or []}
    for n in sorted(names - tested):
        c.error("alerts_test.yml", f"alert {n} has no unit test")


def promtool_parse(c, promtool, exprs):
    """promtool check rules on a scratch file with one recording rule per expression."""
    rules = {"groups": [{"name": "dashboards", "rules": []}]}
    for i, (_, expr) in enumerate(exprs):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        rules["groups"][0]["rules"].append({"record": f"check:expr_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    if result.returncode != 0:
        out = result.stdout + result.stderr
        for m in re.finditer(r"check:expr_(\d+)", out):
            where, expr = exprs[int(m.group(1))]
            c.error(where, f"promtool cannot parse {expr!r}")
        c.error("promtool check rules (dashboard expressions)", out.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--promtool", help="promtool binary: also parse every dashboard expression with it")
    args = ap.parse_args()

    c = Checker()
    compose = load_yaml(COMPOSE_FILE)
    services, listening = check_compose(c, compose)
    check_references(c, services, listening)
    check_prometheus(c, services, listening)
    exprs = []
    used = check_grafana(c, services, listening, exprs)
    check_promtail(c, services)
    check_alerts(c)
    if args.promtool:
        promtool_parse(c, args.promtool, exprs)

    for board, names in sorted(used.items()):
        print(f"{board}: {' '.join(sorted(names))}")
    if c.errors:
        print(f"\n{len(c.errors)} mismatch(es):", file=sys.stderr)
        for e in c.errors:
            print(f"  {e}", file=sys.stderr)
        return 1
    print(f"cross-check: {len(services)} compose services, {len(exprs)} dashboard/datasource expressions, all consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
