"""The deployment files in deploy/ are consistent and valid.

`docker-compose config` (Debian's docker-compose package) validates the compose file
when the binary is installed; without it those checks are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from scripts.serve import ROOT

pytestmark = pytest.mark.scaleout

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
SECRETS = {"POSTGRES_PASSWORD": "pg-dummy", "REDIS_PASSWORD": "redis-dummy",
           "CORS_ORIGINS": "https://support.example.com https://intra.example.com"}
needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (apt-get install docker-compose)")


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "CORS_ORIGINS", "RASA_API_TOKEN"}}
    return subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


@needs_compose
def test_compose_file_is_valid_and_has_the_whole_topology() -> None:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"postgres", "redis", "rasa-1", "rasa-2", "actions-1", "actions-2",
                             "nginx"}
    for name in ("rasa-1", "rasa-2"):
        env = services[name]["environment"]
        assert env["TRACKER_DB_URL"] == "postgresql://rasa:pg-dummy@postgres:5432/rasa"
        assert env["REDIS_URL"] == "redis://:redis-dummy@redis:6379/0"
        assert env["CORS_ORIGINS"] == SECRETS["CORS_ORIGINS"]
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
        assert "deploy/endpoints.yml" in services[name]["command"][0]
    for name in ("rasa-1", "rasa-2", "actions-1", "actions-2"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    # Only the load balancer is published; Rasa, actions, PostgreSQL and Redis are not.
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["nginx"]


@needs_compose
def test_compose_refuses_to_start_without_secrets() -> None:
    """No default password: a missing secret stops `config`, it is never guessed."""
    for missing in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        env = {k: v for k, v in SECRETS.items() if k != missing}
        result = compose_config(env)
        assert result.returncode != 0
        assert missing in result.stderr


def test_nginx_balances_over_the_compose_services() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    upstreams = set(re.findall(r"server ([\w-]+):(\d+)", conf))
    assert upstreams == {("rasa-1", "5005"), ("rasa-2", "5005"), ("actions-1", "5055"),
                         ("actions-2", "5055")}
    assert {host for host, _ in upstreams} <= set(services)
    assert "client_max_body_size" in conf


def test_deploy_endpoints_use_the_project_stores_and_the_balanced_action_servers() -> None:
    main = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    deploy = yaml.safe_load((DEPLOY / "endpoints.yml").read_text())
    assert deploy["tracker_store"] == main["tracker_store"]
    assert deploy["lock_store"] == main["lock_store"]
    assert deploy["action_endpoint"]["url"] == "http://nginx:5055/webhook"
    assert "listen 5055;" in (DEPLOY / "nginx.conf").read_text()
    assert "${" not in yaml.safe_dump(deploy)  # no unset-variable abort (endpoints.yml header)


def test_dockerfile_installs_from_the_lock_and_copies_existing_paths() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "COPY pyproject.toml uv.lock .python-version ./" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert re.search(r"^USER (?!root)", dockerfile, re.M), "the image must not run as root"


def test_helm_values_keep_secrets_in_kubernetes_secrets() -> None:
    values = yaml.safe_load((DEPLOY / "helm-values.yml").read_text())
    assert values["replicaCount"] >= 2
    endpoints = values["applicationSettings"]["endpoints"]["additionalEndpoints"]
    assert endpoints["tracker_store"]["type"] == "components.stores.EnvTrackerStore"
    assert endpoints["lock_store"]["type"] == "components.stores.EnvLockStore"
    secret_env = {item["name"] for item in values["extraEnv"] if "valueFrom" in item}
    assert {"TRACKER_DB_URL", "REDIS_URL", "RASA_API_TOKEN"} <= secret_env
    assert values["applicationSettings"]["initialModel"] == ""  # nothing downloads at start


def test_no_secret_literal_in_the_deployment_files() -> None:
    pattern = re.compile(r"(password|token|secret)\s*[:=]\s*['\"]?[A-Za-z0-9]{8,}", re.I)
    for path in DEPLOY.iterdir():
        if path.is_file():
            assert not pattern.search(path.read_text()), path.name
