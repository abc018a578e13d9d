"""deploy/k8s/, rendered by kustomize (base and the production overlay) and checked
twice: every object against the Kubernetes JSON schemas (kubernetes-validate,
strict: an unknown or misspelt field fails), and the platform's own rules: a
Deployment per process of PLATFORM with its command, ports, native gRPC probes,
resources, a locked-down security context, the MHIN_* variables `make run` gives it,
and secrets only by reference."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kafka import KafkaAdminClient

from mhin_platform.events.topics import declared_topics
from mhin_platform.processes import PLATFORM

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUSTOMIZE = Path(os.environ.get("MHIN_KUSTOMIZE", REPO / ".cache" / "bin" / "kustomize"))
LAYOUTS = ("base", "overlays/production")
# The oldest Kubernetes the manifests are meant for (gRPC probes are GA since 1.27)
# and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
SECRET_VARIABLES = {"MHIN_DATABASE_URL"}
WRITABLE_PATHS = {"/tmp", "/var/lib/mhin"}


@functools.cache
def render(layout: str) -> tuple[dict, ...]:
    if not KUSTOMIZE.is_file():
        pytest.fail(f"kustomize is not at {KUSTOMIZE}: `make kustomize` installs it",
                    pytrace=False)
    result = subprocess.run([str(KUSTOMIZE), "build", str(K8S / layout)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@pytest.fixture(params=LAYOUTS)
def manifests(request) -> tuple[dict, ...]:
    return render(request.param)


def find(manifests, kind: str, name: str) -> dict:
    found = [d for d in manifests if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(manifests, spec) -> dict:
    (only,) = find(manifests, "Deployment", spec.name)["spec"]["template"]["spec"]["containers"]
    assert only["name"] == spec.name
    return only


# ------------------------------------------------------------------ schemas

def test_every_object_is_valid_against_the_kubernetes_schemas(manifests):
    problems = []
    for document in manifests:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                problems.append(f"{document['kind']}/{document['metadata']['name']} "
                                f"(Kubernetes {version}) {path}: {error.message}")
    assert not problems, "\n".join(problems)


def test_the_validator_refuses_what_kubernetes_would():
    deployment = find(render("base"), "Deployment", "needs-intake")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grpc"]["port"] = "grpc"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


# ------------------------------------------------------------------ the platform

def test_the_deployments_are_the_platform(manifests):
    deployments = {d["metadata"]["name"] for d in manifests if d["kind"] == "Deployment"}
    assert deployments == {spec.name for spec in PLATFORM}


def test_each_process_runs_its_command_on_its_ports(manifests, spec):
    process = container(manifests, spec)
    assert process["command"] == [spec.command]
    ports = {port["name"]: port["containerPort"] for port in process["ports"]}
    expected = {"grpc": spec.grpc_port, "http": spec.http_port, "metrics": spec.metrics_port}
    assert ports == {name: port for name, port in expected.items() if port}


def test_probes_use_grpc_health_the_web_its_healthz_the_rest_metrics(manifests, spec):
    process = container(manifests, spec)
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = process[kind]
        if spec.grpc_port:
            assert probe["grpc"]["port"] == spec.grpc_port, kind
            assert probe["grpc"].get("service", "") == "", kind  # the server as a whole
        elif spec.http_port:  # the web dashboard: 200 once it follows the topics
            assert probe["httpGet"] == {"path": "/healthz", "port": "http"}, kind
        else:  # stream processors: no gRPC server, their metrics endpoint answers
            assert probe["httpGet"] == {"path": "/metrics", "port": "metrics"}, kind


def test_each_process_has_resource_requests_and_limits(manifests, spec):
    resources = container(manifests, spec)["resources"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[bound]), bound


def test_every_pod_runs_locked_down(manifests):
    workloads = [d for d in manifests if "template" in d.get("spec", {})]
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for each in pod["containers"] + pod.get("initContainers", []):
            where = f"{name}/{each['name']}"
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            assert {"cpu", "memory"} <= set(each["resources"]["limits"]), where


def test_each_pod_first_creates_the_topics_its_version_declares(manifests, spec):
    pod = find(manifests, "Deployment", spec.name)["spec"]["template"]["spec"]
    (topics,) = pod["initContainers"]
    assert topics["command"] == ["python", "-m", "mhin_platform.events.topics", "create"]
    assert topics["image"] == container(manifests, spec)["image"]
    assert topics["envFrom"] == container(manifests, spec)["envFrom"]


def test_only_scratch_volumes_are_writable(manifests, spec):
    pod = find(manifests, "Deployment", spec.name)["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = container(manifests, spec)["volumeMounts"]
    writable = [mount for mount in mounts if not mount.get("readOnly")]
    assert {mount["mountPath"] for mount in writable} == WRITABLE_PATHS
    assert all("emptyDir" in volumes[mount["name"]] for mount in writable)
    read_only = {mount["mountPath"]: volumes[mount["name"]] for mount in mounts
                 if mount.get("readOnly")}
    # a gRPC service reads the token issuers' public keys; nothing else is mounted
    assert read_only == ({"/etc/mhin/auth": {"name": "auth-trust",
                                             "configMap": {"name": "mhin-auth-trust"}}}
                         if spec.grpc_port else {})


def test_rolling_updates_keep_every_process_serving(manifests, spec):
    strategy = find(manifests, "Deployment", spec.name)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_each_process_gets_the_variables_make_run_gives_it(manifests, spec, deployed_variables,
                                                          listens_on):
    process = container(manifests, spec)
    shared = {}
    for source in process.get("envFrom", []):
        shared |= find(manifests, "ConfigMap", source["configMapRef"]["name"])["data"]
    own = {variable["name"]: variable for variable in process["env"]}
    assert set(shared) | set(own) == deployed_variables
    assert not set(shared) & set(own), "a variable set twice: which one wins is not obvious"
    values = shared | {name: v.get("value") for name, v in own.items()}
    assert values["MHIN_SERVICE_NAME"] == spec.name
    assert values[listens_on] == "0.0.0.0"
    assert values["MHIN_METRICS_PORT"] == str(spec.metrics_port)
    assert values.get("MHIN_GRPC_PORT") == (str(spec.grpc_port) if spec.grpc_port else None)
    for name in SECRET_VARIABLES & deployed_variables:  # none for the stream processors
        assert set(own[name]) == {"name", "valueFrom"}, name
        assert set(own[name]["valueFrom"]) == {"secretKeyRef"}, name


def test_no_secret_value_is_in_the_manifests(manifests):
    assert not [d for d in manifests if d["kind"] == "Secret"]
    for config_map in (d for d in manifests if d["kind"] == "ConfigMap"):
        assert not set(config_map["data"]) & SECRET_VARIABLES


def test_each_process_has_a_service_on_its_ports(manifests, spec):
    service = find(manifests, "Service", spec.name)
    labels = find(manifests, "Deployment", spec.name)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    served = {port["targetPort"]: port["port"] for port in service["spec"]["ports"]}
    exposed = {port["name"]: port["containerPort"] for port in container(manifests, spec)["ports"]}
    assert served == exposed


def test_each_base_image_is_tagged_with_its_package_version(spec, package):
    assert container(render("base"), spec)["image"] == f"mhin/{spec.name}:{package.version}"


def test_production_runs_in_its_own_restricted_namespace_from_the_registry():
    manifests = render("overlays/production")
    namespace = find(manifests, "Namespace", "mhin")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace") == "mhin" for d in manifests if d is not namespace)
    for spec in PLATFORM:
        image = container(manifests, spec)["image"]
        assert image.startswith(f"registry.example.org/mhin/{spec.name}:")


@pytest.mark.integration
def test_the_init_containers_command_creates_the_declared_topics(kafka_bootstrap):
    spec = PLATFORM[0]
    pod = find(render("base"), "Deployment", spec.name)["spec"]["template"]["spec"]
    command = pod["initContainers"][0]["command"]
    assert command[0] == "python"
    env = {**os.environ, "MHIN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    for _ in range(2):  # every pod start runs it: the second run must succeed too
        result = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    assert {topic.name for topic in declared_topics()} <= set(admin.list_topics())
    admin.close()
