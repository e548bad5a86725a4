"""The deployment files: Procfile, app.json, the Prometheus rules and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.support.dashboard import DASHBOARD, dashboard_queries, panels
from watcher.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
RULES_DIR = DEPLOY / "prometheus"
RULE_TESTS = DEPLOY / "examples" / "alerts.test.yml"
SCRAPE_EXAMPLE = DEPLOY / "examples" / "prometheus-scrape.yml"

# SPEC section 6, copied: the tests run on a clone without ../shared.
SPEC_METRICS = frozenset(
    {
        "watcher_check_state",
        "watcher_check_duration_seconds",
        "watcher_check_last_run_timestamp_seconds",
        "watcher_healthz_up",
        "watcher_healthz_latency_seconds",
        "watcher_pg_available",
        "watcher_pg_connections",
        "watcher_pg_connection_limit",
        "watcher_pg_plan_connection_limit",
        "watcher_public_tables",
        "watcher_public_tables_baseline",
        "watcher_sentry_new_issues",
        "watcher_log_lines_total",
        "watcher_log_matches_total",
        "watcher_log_stream_up",
        "watcher_log_stream_reconnects_total",
        "watcher_alerts_firing",
        "watcher_notifications_total",
        "watcher_notification_failures_total",
        "watcher_watch_elapsed_seconds",
        "watcher_rm11_gate_open",
        "watcher_build_info",
        "watcher_pg_sessions",
        "watcher_pg_sequences_behind",
        "watcher_router_requests_total",
        "watcher_router_service_seconds",
        "watcher_router_5xx_ratio",
        "watcher_router_p95_seconds",
        "watcher_pg_load_average",
        "watcher_pg_active_connections",
        "watcher_pg_waiting_connections",
        "watcher_pg_cache_hit_ratio",
        "watcher_pg_db_size_bytes",
        "watcher_incident_open",
        "watcher_incident_acknowledged",
        "watcher_snoozes_active",
    }
)
# SPEC metrics that are histograms: PromQL reads them as `_bucket`, `_sum` and `_count`.
SPEC_HISTOGRAMS = frozenset({"watcher_router_service_seconds"})
# Prometheus's own series, allowed beside the watcher's.
PROMETHEUS_METRICS = frozenset({"up"})

ALERTS = {
    "WatcherDown",
    "WatcherCycleStale",
    "WatcherNotificationsFailing",
    "WatcherCheckCritical",
    # Issue 14: the app on Postgres, from the router and Heroku Postgres metrics lines.
    "WatcherRouterSlow",
    "WatcherPostgresLoadHigh",
}

# Heroku sets these itself: PORT on web dynos only, DYNO on every dyno. Neither is the
# operator's to set, so app.json does not offer them.
HEROKU_SET = {"PORT", "DYNO"}


def promtool(*args: str | Path, cwd: Path | None = None) -> str:
    """Run promtool; missing is a failure, not a skip (scripts/setup installs it)."""
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package")
    done = subprocess.run(
        [tool, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


# --- Prometheus -----------------------------------------------------------------------------


def rule_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.rglob("*") if p.suffix in (".yml", ".yaml"))


def test_every_yaml_file_in_deploy_prometheus_is_a_valid_rules_file() -> None:
    files = rule_files()
    assert files, "no rules in deploy/prometheus"
    output = promtool("check", "rules", *files)
    assert output.count("SUCCESS") == len(files), output


def test_the_rules_define_the_alerts_and_the_unit_tests_cover_each() -> None:
    defined = set(re.findall(r"^\s*- alert:\s*(\w+)", (RULES_DIR / "alerts.yml").read_text(), re.M))
    tested = set(re.findall(r"^\s*alertname:\s*(\w+)", RULE_TESTS.read_text(), re.M))
    assert defined == ALERTS
    assert tested == ALERTS


def test_the_alert_rules_unit_tests_pass() -> None:
    # The tests fire each alert on synthetic series, and check it stays quiet when it should.
    assert "SUCCESS" in promtool("test", "rules", RULE_TESTS)


def test_the_scrape_example_is_a_valid_prometheus_config(tmp_path: Path) -> None:
    # promtool checks that the files the config names exist: give it the token and the rules.
    config = tmp_path / SCRAPE_EXAMPLE.name
    shutil.copy(SCRAPE_EXAMPLE, config)
    (tmp_path / "cutover-watcher-metrics-token").write_text("token\n")
    shutil.copy(RULES_DIR / "alerts.yml", tmp_path / "cutover-watcher-alerts.yml")
    output = promtool("check", "config", config)
    assert "is valid prometheus config file syntax" in output
    text = SCRAPE_EXAMPLE.read_text()
    assert "job_name: cutover-watcher" in text  # the job the rules and the dashboard name
    assert "honor_labels: true" in text  # keeps the job a Pushgateway was pushed with


# --- Grafana --------------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_NAMES = re.compile(
    r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
)
# An identifier not followed by "(" (that would be a function or an aggregation).
_IDENTIFIER = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers and grouping left out)."""
    bare = _NOT_NAMES.sub(" ", _STRINGS.sub('""', expr))
    return {n for n in _IDENTIFIER.findall(bare) if n.lower() not in _KEYWORDS}


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'time() - max by (check) (watcher_check_state{check!~"a|b"} offset 5m) '
        "or sum(rate(watcher_log_lines_total[1m])) / on(job) group_left(version) up"
    )
    assert metric_names(expr) == {"watcher_check_state", "watcher_log_lines_total", "up"}


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def test_the_dashboard_is_importable_anywhere() -> None:
    dashboard = load_dashboard()
    assert dashboard["title"] == "cutover-watcher: RM-10 24-hour watch"
    assert dashboard["uid"]
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["id"] is None  # an id from one Grafana would clash in another
    (source,) = dashboard["__inputs"]
    assert source["name"] == "DS_PROMETHEUS"
    assert (source["type"], source["pluginId"]) == ("datasource", "prometheus")
    # Every query goes to the data source chosen at import.
    for panel in panels():
        for where in (panel, *panel["targets"]):
            assert where["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def test_every_panel_has_a_title_and_queries() -> None:
    all_panels = list(panels())
    assert len(all_panels) >= 15
    for panel in all_panels:
        assert panel.get("title"), panel
        assert panel.get("targets"), panel["title"]
        assert all(t.get("expr") for t in panel["targets"]), panel["title"]
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))


def spec_name(name: str) -> str:
    """The SPEC's name of a series: a histogram's `_bucket`, `_sum`, `_count` are the histogram."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base in SPEC_HISTOGRAMS else name


def test_the_dashboard_reads_only_the_specs_metrics_and_all_of_them() -> None:
    used = {spec_name(n) for q in dashboard_queries() for n in metric_names(q)}
    assert used - SPEC_METRICS - PROMETHEUS_METRICS == set()
    assert SPEC_METRICS - used == set(), "SPEC section 6 metrics without a panel"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses every expression of a rules file: one recording rule per query.
    queries = dashboard_queries()
    rules = [{"record": f"dashboard:query_{n}", "expr": q} for n, q in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yml"
    # JSON is YAML: no YAML library needed.
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(queries)} rules found" in promtool("check", "rules", path)


def test_dashboard_queries_replace_grafana_variables(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert not any("$" in q for q in queries)
    assert any("[1m]" in q for q in queries)
    unknown = load_dashboard()
    unknown["panels"][0]["targets"][0]["expr"] = "rate(watcher_log_lines_total[$custom])"
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(unknown))
    with pytest.raises(ValueError, match=r"\$custom"):
        dashboard_queries(path)


def panel_titled(title: str) -> dict[str, Any]:
    return next(p for p in panels() if p["title"] == title)


def test_check_states_are_shown_by_name_and_colour() -> None:
    panel = panel_titled("Check state")
    assert panel["type"] == "state-timeline"
    assert "watcher_check_state" in panel["targets"][0]["expr"]
    (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
    shown = {v: (o["text"], o["color"]) for v, o in mapping["options"].items()}
    assert shown == {
        "0": ("OK", "green"),
        "1": ("WARNING", "yellow"),
        "2": ("CRITICAL", "red"),
        "3": ("UNKNOWN", "purple"),
    }


def test_the_watch_phase_follows_the_runbook_timeline() -> None:
    # SPEC section 5: active watch to T0+4h, dashboard watch to T0+24h, then done.
    panel = panel_titled("Watch phase")
    assert panel["targets"][0]["expr"] == "watcher_watch_elapsed_seconds"
    ranges = [m["options"] for m in panel["fieldConfig"]["defaults"]["mappings"]]

    def phase(seconds: float) -> str:
        (text,) = [
            r["result"]["text"]
            for r in ranges
            if r["from"] <= seconds and (r["to"] is None or seconds <= r["to"])
        ]
        return str(text)

    hour = 3600
    assert [phase(s) for s in (0, 4 * hour - 1, 4 * hour, 24 * hour - 1, 24 * hour, 99 * hour)] == [
        "active watch (7.1)",
        "active watch (7.1)",
        "dashboard watch (7.2)",
        "dashboard watch (7.2)",
        "done: scale the worker to 0",
        "done: scale the worker to 0",
    ]


# --- Heroku ---------------------------------------------------------------------------------


def settings_variables() -> dict[str, list[str]]:
    """Each setting's environment variables, as the watcher's own messages name them."""
    return {f: re.findall(r"[A-Z][A-Z0-9_]+", env_name(f)) for f in Settings.model_fields}


def app_json() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    return manifest


def test_app_json_offers_every_setting_and_nothing_else() -> None:
    variables = {v for names in settings_variables().values() for v in names}
    assert {"WATCHER_DATABASE_URL", "DATABASE_URL", "WATCHER_LOG_LEVEL"} <= variables
    assert set(app_json()["env"]) == variables - HEROKU_SET
    for name, entry in app_json()["env"].items():
        assert isinstance(entry["description"], str) and entry["description"], name
        assert isinstance(entry["required"], bool), name
        assert isinstance(entry.get("value", ""), str), name  # Heroku wants strings


def test_app_json_values_are_the_settings_defaults_and_secrets_have_none() -> None:
    env = app_json()["env"]
    for field, names in settings_variables().items():
        default = Settings.model_fields[field].default
        for name in set(names) - HEROKU_SET:
            if default is None:
                # Unset by default, secrets among them: nothing to prefill.
                assert "value" not in env[name], name
            else:
                plain = default.get_secret_value() if isinstance(default, SecretStr) else default
                assert env[name]["value"] == str(plain), name
    assert env["WATCHER_METRICS_TOKEN"].get("generator") == "secret"


def test_app_json_values_load_as_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (v for names in settings_variables().values() for v in names):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings().model_dump()
    for name, entry in app_json()["env"].items():
        if "value" in entry:
            monkeypatch.setenv(name, entry["value"])
    assert Settings().model_dump() == defaults


def test_app_json_runs_one_basic_worker_on_the_python_buildpack() -> None:
    manifest = app_json()
    # The keys Heroku's app.json schema knows; an unknown one fails the app setup.
    assert set(manifest) <= {"name", "description", "keywords", "buildpacks", "formation", "env"}
    assert manifest["name"] == "cutover-watcher"  # at most 30 characters
    for name, entry in manifest["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
        assert set(entry) <= {"description", "value", "required", "generator"}, name
    assert manifest["formation"] == {"worker": {"quantity": 1, "size": "basic"}}
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]


def test_the_procfile_runs_the_daemon_as_a_worker() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    processes = dict(line.split(":", 1) for line in lines if line.strip())
    assert list(processes) == ["worker"]
    command = processes["worker"].split()
    assert command[-2:] == ["watcher", "run"]
    # Deployed from this repository the watcher is an app of its own: Heroku's DYNO
    # (worker.1) would only hide the watched app's lines of a dyno of the same name.
    assert command[:3] == ["env", "-u", "DYNO"]


def _deploy_section(readme: str) -> str:
    """The README's "Deploying to Heroku" section: up to the next `## ` heading."""
    start = readme.index("## Deploying to Heroku")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


UNSET_STATE = "heroku config:unset WATCHER_STATE_URL"
STATE_ADDON = "heroku addons:create heroku-postgresql:essential-0 --as WATCHER_STATE"


@pytest.mark.parametrize("document", ["README.md", "deploy/README.md"])
def test_the_deploy_documents_agree_with_app_json_and_the_procfile(document: str) -> None:
    """README's Heroku steps, deploy/README.md, app.json and the Procfile tell one story."""
    text = (ROOT / document).read_text()
    if document == "README.md":
        text = _deploy_section(text)
    manifest = app_json()
    # app.json prefills WATCHER_STATE_URL with the SQLite default, and Heroku refuses to attach
    # an add-on as WATCHER_STATE while that variable is set: unset it first, in both documents.
    assert manifest["env"]["WATCHER_STATE_URL"]["value"].startswith("sqlite:///")
    assert UNSET_STATE in text, f"{document} must say `{UNSET_STATE}`"
    assert STATE_ADDON in text, f"{document} must say `{STATE_ADDON}`"
    assert text.index(UNSET_STATE) < text.index(STATE_ADDON), "unset before the add-on"
    procfile = (ROOT / "Procfile").read_text().strip()
    assert f"`{procfile}`" in text, f"{document} must show the Procfile as it is"
    for buildpack in manifest["buildpacks"]:
        assert buildpack["url"] in text
    (process, formation), *_ = manifest["formation"].items()
    assert f"ps:scale {process}={formation['quantity']}:{formation['size']}" in text
    for name, entry in manifest["env"].items():
        if entry.get("required"):
            assert f"`{name}`" in text or f"{name}=" in text, f"{document} omits {name}"
    assert "--as DATABASE" in text  # the watched database, attached


def test_the_readme_offers_the_deploy_button_for_app_json() -> None:
    section = _deploy_section((ROOT / "README.md").read_text())
    assert "(https://heroku.com/deploy" in section
    assert "https://www.herokucdn.com/deploy/button.svg" in section
    assert "app.json" in section
