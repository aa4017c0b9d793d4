"""What operators run, checked statically (no Docker engine, no cluster): Dockerfile, deploy/compose.yaml,
deploy/prometheus/prometheus.yml and deploy/k8s/.

The main checks (schemas, Dockerfile, mounts, settings names, promtool, the liveness probe, k8sgen's
staleness) run on the real files and on a broken copy, so that they cannot pass vacuously. Schemas come from
packages: the compose-spec schema that check-jsonschema vendors, the Kubernetes schemas of kubernetes-validate.
Without them (or promtool) a test is skipped locally and fails in CI.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import pytest
import yaml

from callpulse import k8sgen
from callpulse.embedded import wait_until
from callpulse.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules.yml"
DOCKERFILE = ROOT / "Dockerfile"
CALLPULSE_SERVICES = ("worker", "exporter", "simulator")
K8S_VERSIONS = ("1.28", "latest")  # the oldest Kubernetes we claim, and the newest kubernetes-validate knows
CORE_KINDS = {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"}
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def missing(what: str) -> NoReturn:
    """Skip the test without ``what``; fail in CI, which must run every check."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; CI must run this check")
    pytest.skip(f"{what} is missing")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


SETTING_NAMES = {f"CALLPULSE_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(names: Iterable[str]) -> list[str]:
    """The CALLPULSE_* names that are not a field of Settings (a typo is silently ignored at run time)."""
    return sorted(name for name in names if name.startswith("CALLPULSE_") and name not in SETTING_NAMES)


def settings_problem(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Why Settings refuses these CALLPULSE_* values (read from the environment, as in a container), or None."""
    for name in list(os.environ):
        if name.startswith("CALLPULSE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        load_settings()
    except SettingsError as exc:
        return str(exc)
    return None


def test_unknown_setting_names_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unknown_settings(["CALLPULSE_KAFKA_BOOTSTRAP", "CALLPULSE_KAFKA_BOOTSTRAPS", "PATH"]) == [
        "CALLPULSE_KAFKA_BOOTSTRAPS"
    ]
    assert settings_problem({"CALLPULSE_TOPIC_PARTITIONS": "eight"}, monkeypatch) is not None


# ------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if not stages:
            raise AssertionError(f"instruction before FROM: {line}")
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def dockerfile_problems(text: str, packages: list[str]) -> list[str]:
    """What is wrong with the image the Dockerfile builds (its last stage) for callpulse."""
    stages = dockerfile_stages(text)
    final = stages[-1]
    problems = []
    if final[0][1].split()[0] != "python:3.11-slim":
        problems.append(f"final stage is FROM {final[0][1]}, want python:3.11-slim")
    users = [args for instruction, args in final if instruction == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        problems.append(f"final stage runs as root (USER {users[-1] if users else 'unset'})")
    last = {instruction: args for instruction, args in final}
    if json.loads(last.get("ENTRYPOINT", "null")) != ["callpulse"]:
        problems.append(f'ENTRYPOINT is {last.get("ENTRYPOINT")}, want ["callpulse"]')
    if json.loads(last.get("CMD", "null")) != ["exporter"]:
        problems.append(f'CMD is {last.get("CMD")}, want ["exporter"]')
    if "9466" not in last.get("EXPOSE", "").split():
        problems.append("EXPOSE 9466 is missing")
    if "/health" not in last.get("HEALTHCHECK", "") or "urllib" not in last.get("HEALTHCHECK", ""):
        problems.append("HEALTHCHECK does not GET /health with urllib")
    copied = {
        part.rstrip("/")
        for stage in stages
        for instruction, args in stage
        if instruction == "COPY" and "--from=" not in args
        for part in args.split()[:-1]
    }
    problems += [f"package {name} is not copied into the image" for name in packages if name not in copied]
    problems += [f"COPY source {name} does not exist" for name in sorted(copied) if not (ROOT / name).exists()]
    return problems


def project_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_dockerfile_builds_a_non_root_callpulse_image() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8"), project_packages()) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("USER 10001:10001", "USER root", "runs as root"),
        ("USER 10001:10001\n", "", "runs as root"),
        ('ENTRYPOINT ["callpulse"]', 'ENTRYPOINT ["python"]', "ENTRYPOINT"),
        ("COPY streams ./streams\n", "", "package streams"),
    ],
)
def test_dockerfile_check_can_fail(old: str, new: str, problem: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert old in text
    assert any(problem in found for found in dockerfile_problems(text.replace(old, new), project_packages()))


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    copied = {"pyproject.toml", "README.md", *project_packages()}
    ignored = [name for name in copied for pattern in patterns if fnmatch(name, pattern.rstrip("/"))]
    assert ignored == [], ".dockerignore excludes files the Dockerfile copies"
    assert {".git", "tests", ".env"} <= set(patterns)


# --------------------------------------------------------------------------------------------- compose


def compose_spec_schema() -> dict[str, Any]:
    """The compose-spec JSON schema vendored by check-jsonschema (read as a file: no import of its CLI)."""
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or not spec.submodule_search_locations:
        missing("check-jsonschema (pip install -e '.[dev]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "builtin_schemas/vendor/compose-spec.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def compose_schema_errors(compose: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(compose_spec_schema())
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(compose)]


def test_compose_matches_the_compose_spec_schema() -> None:
    assert compose_schema_errors(load(COMPOSE)) == []


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda c: c["services"]["exporter"].update(helthcheck={"test": ["CMD", "true"]}), "services/exporter"),
        (lambda c: c["services"]["worker"].update(depends_on={"kafka": {"condition": "healthy"}}), "depends_on"),
        (lambda c: c["services"]["redis"].update(ports=9466), "services/redis/ports"),
    ],
)
def test_compose_schema_check_can_fail(mutate: Any, where: str) -> None:
    compose = copy.deepcopy(load(COMPOSE))
    mutate(compose)
    errors = compose_schema_errors(compose)
    assert any(where in error for error in errors), errors


def test_compose_callpulse_services_use_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    services = load(COMPOSE)["services"]
    for name in CALLPULSE_SERVICES:
        service = services[name]
        assert service["build"] == "..", name
        env = {key: str(value) for key, value in service["environment"].items()}
        assert unknown_settings(env) == [], name
        assert env["CALLPULSE_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["CALLPULSE_REDIS_URL"] == "redis://redis:6379/0", name
        concrete = {key: value for key, value in env.items() if "${" not in value}
        assert settings_problem(concrete, monkeypatch) is None, name
    assert {"kafka", "redis"} <= set(services)


def bind_mount_problems(compose: dict[str, Any], base: Path) -> list[str]:
    """Bind mounts whose file is not in the repository, and named volumes that are not declared."""
    problems = []
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                if not (base / source).resolve().exists():
                    problems.append(f"{name}: {source} does not exist")
            elif source not in declared:
                problems.append(f"{name}: named volume {source} is not declared")
    return problems


def test_compose_mounted_files_exist() -> None:
    assert bind_mount_problems(load(COMPOSE), COMPOSE.parent) == []


def test_compose_mount_check_can_fail() -> None:
    compose = copy.deepcopy(load(COMPOSE))
    compose["services"]["prometheus"]["volumes"] += ["./prometheus/no-such.yml:/etc/x.yml:ro", "undeclared:/data"]
    found = set(bind_mount_problems(compose, COMPOSE.parent)) - set(bind_mount_problems(load(COMPOSE), COMPOSE.parent))
    assert found == {
        "prometheus: ./prometheus/no-such.yml does not exist",
        "prometheus: named volume undeclared is not declared",
    }


def test_compose_publishes_on_loopback_only() -> None:
    for name, service in load(COMPOSE)["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_waits_on_healthchecks_that_exist() -> None:
    services = load(COMPOSE)["services"]
    image_has_healthcheck = "\nHEALTHCHECK " in DOCKERFILE.read_text(encoding="utf-8")
    for name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            if how["condition"] == "service_healthy":
                other = services[dependency]
                has_check = "healthcheck" in other or (other.get("build") == ".." and image_has_healthcheck)
                assert has_check and not other.get("healthcheck", {}).get("disable"), f"{name} -> {dependency}"


def test_grafana_mounts_where_the_provisioning_looks() -> None:
    volumes = {v.split(":")[1]: v.split(":")[0] for v in load(COMPOSE)["services"]["grafana"]["volumes"]}
    assert volumes["/etc/grafana/provisioning"] == "./grafana/provisioning"
    for provider_file in (DEPLOY / "grafana/provisioning/dashboards").glob("*.y*ml"):
        for provider in load(provider_file)["providers"]:
            assert volumes[provider["options"]["path"]] == "./grafana/dashboards", provider_file


def test_prometheus_config_scrapes_and_alerts_compose_services() -> None:
    compose = load(COMPOSE)
    config = load(PROMETHEUS_YML)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    exporter = jobs["callpulse-exporter"]
    assert exporter["scrape_interval"] == "5s"
    assert exporter["static_configs"] == [{"targets": ["exporter:9466"]}]
    assert compose["services"]["exporter"]["environment"]["CALLPULSE_EXPORTER_PORT"] == "9466"
    [alertmanagers] = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    assert {"exporter", "alertmanager"} <= set(compose["services"])
    # each rule file sits beside the config in the container, mounted from beside prometheus.yml in the repo
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    for rule_file in config["rule_files"]:
        assert mounts[f"/etc/prometheus/{rule_file}"] == f"./prometheus/{rule_file}"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        missing("promtool (apt-get install prometheus)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_prometheus_config() -> None:
    result = promtool("check", "config", PROMETHEUS_YML.name, cwd=PROMETHEUS_YML.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_config_can_fail(tmp_path: Path) -> None:
    """A copy without the rules.yml beside it: promtool resolves rule_files relative to the config."""
    shutil.copy(PROMETHEUS_YML, tmp_path / "prometheus.yml")
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "rules.yml" in result.stdout + result.stderr


def test_process_probe_sees_a_live_callpulse_command(tmp_path: Path) -> None:
    """The worker's liveness probe (and compose's healthcheck) exit 0 only while `callpulse <command>` runs."""
    if not Path("/proc/self/stat").exists():
        missing("/proc")
    compose_probe = load(COMPOSE)["x-process-probe"]
    [worker] = load_all(K8S / "worker-deployment.yaml")
    command = worker["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]
    assert command == ["python", "-c", compose_probe, "worker"]
    fake = tmp_path / "callpulse"
    fake.write_text("import signal\nsignal.pause()\n")  # runs until killed
    want = f"probe-test-{os.getpid()}"

    def probe() -> int:
        return subprocess.run([sys.executable, "-c", compose_probe, want], timeout=30, check=False).returncode

    assert probe() == 1
    process = subprocess.Popen([sys.executable, str(fake), want])
    try:
        wait_until(lambda: probe() == 0, 10, 0.1, "the probe to see the running process")
    finally:
        process.kill()
        process.wait()
    assert probe() == 1


# ------------------------------------------------------------------------------------------ Kubernetes


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]


def k8s_schema_error(obj: dict[str, Any], version: str) -> str | None:
    """Why the Kubernetes schema of ``version`` (strict: no unknown fields) refuses ``obj``, or None."""
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate (pip install -e '.[dev]')")
    if version == "latest":
        version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(map(str, exc.path))}: {exc.message}"
    return None


def test_every_k8s_object_is_checked() -> None:
    kinds = {obj["kind"] for _, obj in k8s_objects()}
    assert kinds <= CORE_KINDS | CRD_KINDS, "a new kind needs a check here"
    assert kinds == CORE_KINDS | CRD_KINDS


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_k8s_objects_match_the_kubernetes_schema(version: str) -> None:
    errors = {
        f"{name} {obj['kind']}": k8s_schema_error(obj, version)
        for name, obj in k8s_objects()
        if obj["kind"] in CORE_KINDS
    }
    assert {key: error for key, error in errors.items() if error} == {}


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["spec"].update(replicas="two"), "spec.replicas"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenesProbe={}),
            "spec.template.spec.containers.0",
        ),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"), "spec.template.spec.containers.0"),
    ],
)
def test_k8s_schema_check_can_fail(mutate: Any, where: str) -> None:
    [deployment] = load_all(K8S / "worker-deployment.yaml")
    mutate(deployment)
    error = k8s_schema_error(deployment, K8S_VERSIONS[-1])
    assert error is not None and error.startswith(where), error


def objects_of(kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for _, obj in k8s_objects() if obj["kind"] == kind}


def test_k8s_settings_are_real_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    config = objects_of("ConfigMap")["callpulse-config"]["data"]
    assert unknown_settings(config) == []
    assert "CALLPULSE_CUSTOMER_ID_SALT" not in config, "the salt is a secret"
    assert settings_problem(config, monkeypatch) is None
    for deployment in objects_of("Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert unknown_settings([env["name"] for env in container.get("env", [])]) == []
            assert container["envFrom"] == [{"configMapRef": {"name": "callpulse-config"}}]


def test_the_secret_is_a_placeholder_the_worker_needs() -> None:
    [secret] = load_all(K8S / "secret.example.yaml")
    assert "data" not in secret and set(secret["stringData"].values()) == {""}, "never commit the salt"
    assert "secret.example.yaml" not in load(K8S / "kustomization.yaml")["resources"]
    [worker] = objects_of("Deployment")["callpulse-worker"]["spec"]["template"]["spec"]["containers"]
    [salt] = [env for env in worker["env"] if env["name"] == "CALLPULSE_CUSTOMER_ID_SALT"]
    assert salt["valueFrom"]["secretKeyRef"] == {"name": "callpulse-secrets", "key": "CALLPULSE_CUSTOMER_ID_SALT"}
    assert secret["metadata"]["name"] == "callpulse-secrets"


def test_pods_run_non_root_on_a_read_only_root() -> None:
    uid = int(re.findall(r"^USER (\d+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)[-1])
    deployments = objects_of("Deployment")
    assert deployments["callpulse-worker"]["spec"]["replicas"] == 2
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == uid, name
        tmp_volumes = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"requests", "limits"} <= set(container["resources"]), name
            assert "livenessProbe" in container, name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"]), name


def test_service_and_service_monitor_reach_the_exporter() -> None:
    exporter = objects_of("Deployment")["callpulse-exporter"]
    pod_labels = exporter["spec"]["template"]["metadata"]["labels"]
    [container] = exporter["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["exporter"]
    assert {"name": "metrics", "containerPort": 9466, "protocol": "TCP"} in container["ports"]
    service = objects_of("Service")["callpulse-exporter"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9466, "targetPort": "metrics", "protocol": "TCP"}]

    [monitor] = objects_of("ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [endpoint["port"] for endpoint in monitor["spec"]["endpoints"]] == ["metrics"]
    assert all(endpoint["path"] == "/metrics" for endpoint in monitor["spec"]["endpoints"])


def test_prometheus_rule_wraps_the_rule_groups_of_rules_yml() -> None:
    [rule] = objects_of("PrometheusRule").values()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert {"name", "namespace"} <= set(rule["metadata"])
    assert set(rule["spec"]) == {"groups"}
    assert rule["spec"]["groups"] == load(RULES)["groups"]


def test_prometheus_rule_is_not_stale() -> None:
    assert k8sgen.check(RULES, K8S / "prometheusrule.yaml"), "stale: run `python -m callpulse.k8sgen` and commit it"


def test_k8sgen_finds_stale_output_and_bad_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, out = tmp_path / "rules.yml", tmp_path / "prometheusrule.yaml"
    data = load(RULES)
    rules.write_text(yaml.safe_dump(data), encoding="utf-8")
    args = ["--rules", str(rules), "--out", str(out)]
    assert k8sgen.main(["--check", *args]) == 1
    assert k8sgen.main(args) == 0
    assert k8sgen.main(["--check", *args]) == 0
    data["groups"][0]["rules"][0]["for"] = "5m"
    rules.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert k8sgen.main(["--check", *args]) == 1
    assert "stale" in capsys.readouterr().err
    rules.write_text("groups: []\n", encoding="utf-8")
    assert k8sgen.main(["--check", *args]) == 2
    assert "non-empty list `groups`" in capsys.readouterr().err


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load(K8S / "kustomization.yaml")
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)
    assert kustomization["namespace"] == "callpulse"
    assert all(obj["metadata"].get("namespace", "callpulse") == "callpulse" for _, obj in k8s_objects())


def test_kubectl_kustomize_builds_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomization is checked by the test above only")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(doc["kind"] for doc in built) == sorted(
        obj["kind"] for name, obj in k8s_objects() if name != "secret.example.yaml"
    )
