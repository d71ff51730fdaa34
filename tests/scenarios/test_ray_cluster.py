"""A sweep through `--address` on a real Ray head node, as a user starts one: `ray start --head`
with token authentication, bound to loopback. The table must be byte for byte the local
backend's, and a client without the token must be refused with one line that says what to give.

The head node runs in its own process group (its `--block` mode keeps every Ray process it
starts as its child), and the finalizer ends that group, whatever happened: `ray stop` would end
every Ray process on the machine, other users' included.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "days=0.3", "--set", "drain_days=0.1", "--set", "policies=5",
         "--set", "providers.stx_each=20000"]  # fmt: skip
GRID = ["--grid", "scenario=baseline,flash-crash", "--grid", "crash.change=-0.5,-0.9"]
# Ray otherwise swaps 127.0.0.1 for the machine's outward address (on both sides)
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

pytestmark = pytest.mark.ray_cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports(taken: set[int]) -> int:
    """A free loopback port not in `taken` (which it joins)."""
    while (port := _free_port()) in taken:
        pass
    taken.add(port)
    return port


def _clean_env(home: Path) -> dict[str, str]:
    """This machine's environment with no Ray token or mode of its own, and its own home (so no
    ~/.ray/auth_token from another Ray session is found)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.pop("RAY_ADDRESS", None)
    return {**env, **LOOPBACK, "HOME": str(home)}


@pytest.fixture(scope="module")
def head():
    """A token-authenticated head node on free loopback ports; yields (address, token file)."""
    # a short path: Ray's Unix sockets live under the temp dir and their paths are length-limited
    base = Path(tempfile.mkdtemp(prefix="rayc-", dir="/tmp"))
    token = base / "token"
    token.write_text(secrets.token_hex(32))
    (base / "home").mkdir()
    # the workers' port range first, then every other port free and outside it, all distinct
    low = min(_free_port(), 60000)
    taken = set(range(low, low + 201))
    port = _ports(taken)
    flags = (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    )
    ports = {flag: str(_ports(taken)) for flag in flags}
    env = {**_clean_env(base / "home"), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
           "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard", "false",
           *(x for kv in ports.items() for x in kv),
           "--min-worker-port", str(low), "--max-worker-port", str(low + 200),
           "--num-cpus", "2", "--temp-dir", str(base / "r"),
           "--disable-usage-stats"]  # fmt: skip
    log = (base / "head.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (base / "head.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the head node did not come up in 60 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        yield f"127.0.0.1:{port}", token, base
    finally:
        _stop_group(proc)
        log.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the head node's process group; SIGKILL to what is left of it after 3 s (Ray
    would drain for up to 30 s; nothing of this cluster is worth keeping)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_py(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)  # fmt: skip


def test_a_sweep_on_the_cluster_gives_the_local_table_byte_for_byte(head, tmp_path):
    address, token, base = head
    env = _clean_env(base / "home")
    cluster, local = tmp_path / "cluster", tmp_path / "local"
    r = run_py("sweep", *GRID, *SMALL, "--backend", "ray", "--address", address,
               "--ray-token-file", str(token), "--out", str(cluster), env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert token.read_text() not in r.stdout + r.stderr  # the token is never shown
    r = run_py("sweep", *GRID, *SMALL, "--workers", "2", "--out", str(local),
               env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    table = (cluster / "sweep.csv").read_bytes()
    assert table == (local / "sweep.csv").read_bytes()
    assert table.count(b"\n") == 1 + 4  # 2 scenarios x 2 crash depths


def test_without_the_token_the_cluster_refuses_and_the_error_says_what_to_give(head, tmp_path):
    address, _token, base = head
    out = tmp_path / "sw"
    # Ray retries a refused connection for about 20 s; its documented budget shortens that here
    env = {**_clean_env(base / "home"), "RAY_gcs_server_port_wait_time_s": "3"}
    r = run_py("sweep", "baseline", "--grid", "days=0.1", "--backend", "ray",
               "--address", address, "--out", str(out), env=env)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr[-2000:]  # Ray's retry noise is not shown
    assert f"--address: the Ray cluster at '{address}' refused this client's token" in r.stderr
    assert "--ray-token-file" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_a_stress_matrix_on_the_cluster_gives_the_local_table_and_verdict(head, tmp_path):
    address, token, base = head
    env = _clean_env(base / "home")
    cluster, local = tmp_path / "cluster", tmp_path / "local"
    matrix = ["stress", "--scenarios", "baseline,flash-crash", "--seeds", "2", *SMALL]
    r = run_py(*matrix, "--backend", "ray", "--address", address, "--ray-token-file", str(token),
               "--out", str(cluster), env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "PASS" in r.stdout and token.read_text() not in r.stdout + r.stderr
    r = run_py(*matrix, "--workers", "2", "--out", str(local), env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    table = (cluster / "stress.csv").read_bytes()
    assert table == (local / "stress.csv").read_bytes()
    assert table.count(b"\n") == 1 + 4  # 2 scenarios x 2 seeds
