"""compose.yaml, Containerfile, .env.example and the CI workflow: valid against their schemas
and holding the points the deployment promises (health checks, limits, volumes, ports, no
default passwords, non-root image, size check)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ops.promql import REPO, load_yaml

CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).with_name("check-jsonschema")
)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(REPO / "compose.yaml")
    return data


def workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = load_yaml(REPO / ".github" / "workflows" / "ci.yml")
    return data


@pytest.mark.integration
@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.compose-spec", "compose.yaml"),
        ("vendor.github-workflows", ".github/workflows/ci.yml"),
    ],
)
def test_files_validate_against_their_schema(schema: str, path: str) -> None:
    if not Path(CHECK_JSONSCHEMA).exists():
        pytest.skip("check-jsonschema missing: pip install -e '.[dev]'")
    done = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, str(REPO / path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_schema_check_catches_a_broken_compose_file(tmp_path: Path) -> None:
    if not Path(CHECK_JSONSCHEMA).exists():
        pytest.skip("check-jsonschema missing: pip install -e '.[dev]'")
    broken = tmp_path / "compose.yaml"
    broken.write_text((REPO / "compose.yaml").read_text().replace("healthcheck:", "healthchek:", 1))
    done = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0


# --- compose.yaml ---------------------------------------------------------------------------

SERVICES = {
    "postgres",
    "rabbitmq",
    "redis",
    "migrate",
    "lark-service",
    "worker",
    "prometheus",
    "grafana",
}


def test_compose_has_the_whole_stack_with_pinned_images() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    assert services["postgres"]["image"] == "postgres:16"
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["redis"]["image"] == "redis:7"
    for name in ("prometheus", "grafana"):
        assert re.fullmatch(r"[\w/.-]+:v?\d+\.\d+\.\d+", services[name]["image"]), name
    for name in ("migrate", "lark-service", "worker"):
        assert services[name]["build"]["dockerfile"] == "Containerfile"
    assert services["lark-service"]["command"] == ["lark-service", "serve"]
    assert services["worker"]["command"] == ["lark-service", "worker"]
    assert services["migrate"]["command"] == ["lark-service", "db", "upgrade"]


def test_every_service_has_a_health_check_and_limits() -> None:
    for name, service in compose()["services"].items():
        check = service.get("healthcheck")
        assert check and check["test"] and not check.get("disable"), name
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0 and limits["memory"], name
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["deploy"]["resources"]["limits"] == {"cpus": "0.5", "memory": "512M"}


def test_app_waits_for_the_migration_and_its_backends() -> None:
    services = compose()["services"]
    for name in ("lark-service", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["rabbitmq"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"


def test_ports_and_metrics() -> None:
    services = compose()["services"]
    assert services["lark-service"]["ports"] == ["8080:8080"]
    assert services["prometheus"]["ports"] == ["9091:9090"]
    assert services["grafana"]["ports"] == ["3000:3000"]
    for name in ("lark-service", "worker"):
        env = services[name]["environment"]
        assert env["LARK_SERVICE_METRICS_PORT"] == "9090"
        assert "9090" in services[name]["expose"]
    assert "--storage.tsdb.retention.time=30d" in services["prometheus"]["command"]


def test_named_volumes() -> None:
    stack = compose()
    assert {"prometheus_data", "grafana_data", "postgres_data"} <= set(stack["volumes"])
    mounts = {name: s.get("volumes", []) for name, s in stack["services"].items()}
    assert "prometheus_data:/prometheus" in mounts["prometheus"]
    assert "grafana_data:/var/lib/grafana" in mounts["grafana"]
    assert "postgres_data:/var/lib/postgresql/data" in mounts["postgres"]
    assert "./ops/prometheus:/etc/prometheus:ro" in mounts["prometheus"]
    assert "./ops/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts["grafana"]


def test_no_default_passwords_secrets_come_from_the_env_file() -> None:
    text = (REPO / "compose.yaml").read_text()
    services = compose()["services"]
    secret_keys = re.compile(r"PASS(WORD)?$|SECRET|_KEY$")
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if secret_keys.search(key):
                # only interpolated, and required: ${VAR:?message}
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, key, value)
    # passwords inside URLs are interpolated too
    urls = [
        str(value)
        for service in services.values()
        for value in (service.get("environment") or {}).values()
        if "://" in str(value) and "@" in str(value)
    ]
    assert len(urls) >= 2  # the database and the broker
    for url in urls:
        assert re.match(r"\w+(\+\w+)?://\w+:\$\{[A-Z_]+:\?[^}]+\}@", url), url
    for name in ("lark-service", "worker", "migrate"):
        assert services[name]["env_file"] == [{"path": ".env", "required": True}]
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )
    assert "admin:admin" not in text and "guest" not in text


def test_env_example_is_committed_and_env_is_ignored() -> None:
    example = (REPO / ".env.example").read_text()
    keys = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    assert {
        "LARK_SERVICE_SECRET_KEY",
        "LARK_SERVICE_ADMIN_KEY",
        "POSTGRES_PASSWORD",
        "RABBITMQ_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    } <= set(keys)
    assert all(value == "" for value in keys.values()), "the example must hold no real values"
    compose_vars = set(re.findall(r"\$\{([A-Z_]+):\?", (REPO / "compose.yaml").read_text()))
    assert compose_vars <= set(keys)
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


# --- Containerfile ----------------------------------------------------------------------------


def containerfile() -> str:
    return (REPO / "Containerfile").read_text()


def final_stage() -> str:
    return containerfile().rsplit("\nFROM ", 1)[1]


def test_containerfile_is_multi_stage_on_python_312_slim() -> None:
    froms = re.findall(r"^FROM (\S+)", containerfile(), re.MULTILINE)
    assert len(froms) >= 2
    assert all(f == "python:3.12-slim" for f in froms)
    assert "COPY --from=build /opt/venv /opt/venv" in final_stage()


def test_final_stage_has_no_build_tools_or_caches_and_runs_as_non_root() -> None:
    final = final_stage()
    assert not re.search(r"apt-get install|gcc|build-essential|pip install", final)
    assert re.search(r"^USER (?!0\b|root\b)\S+", final, re.MULTILINE)
    build = containerfile().split("\nFROM ", 2)[1]
    assert "--no-cache-dir" in build and "PIP_NO_CACHE_DIR=1" in build
    assert "--only-binary=:all:" in build  # wheels only: no compiler needed
    assert not re.search(r"pip install[^\n]*\[dev\]", containerfile())


def test_healthcheck_uses_python_urllib_on_healthz() -> None:
    final = final_stage()
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", final, re.MULTILINE | re.DOTALL)
    assert healthcheck
    assert "urllib.request" in healthcheck.group(1) and "/healthz" in healthcheck.group(1)
    assert "curl" not in healthcheck.group(1)
    assert "lark-service" not in healthcheck.group(1)
    assert re.search(r"^EXPOSE 8080 9090$", final, re.MULTILINE)
    assert 'CMD ["lark-service", "serve"]' in final


def test_containerfile_copies_what_pip_needs() -> None:
    # pyproject's readme is read at build time: it must be copied with the sources
    assert "COPY pyproject.toml README.md ./" in containerfile()
    assert "COPY lark_service ./lark_service" in containerfile()


# --- CI workflow ------------------------------------------------------------------------------


def test_workflow_triggers() -> None:
    flow = workflow()
    on = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads a bare `on` as True
    assert on["push"]["branches"] == ["develop", "00*-*"]
    assert "pull_request" in on


def test_workflow_jobs() -> None:
    jobs = workflow()["jobs"]
    assert {"lint", "types", "security", "tests", "build"} <= set(jobs)

    def runs(job: str) -> str:
        return "\n".join(step.get("run", "") for step in jobs[job]["steps"])

    assert "ruff check" in runs("lint")
    assert "mypy" in runs("types")
    assert "bandit" in runs("security")
    services = jobs["tests"]["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13")
    assert "redis" in services
    assert "pytest --cov" in runs("tests")
    assert any(
        s.get("uses", "").startswith("codecov/codecov-action@") for s in jobs["tests"]["steps"]
    )
    build = runs("build")
    assert "docker build -f Containerfile" in build
    assert jobs["build"]["env"]["MAX_IMAGE_BYTES"] == "500000000"
    assert '-lt "$MAX_IMAGE_BYTES"' in build
    assert "State.Health.Status" in build and "healthy" in build
