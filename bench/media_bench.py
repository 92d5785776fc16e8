"""Media upload benchmark: MB/s for 2 MB photos (direct and tus with 256 KiB chunks) against
gunicorn with 2 workers on loopback, and the server CPU per photo against Pillow alone.

Run: `.venv/bin/python -m bench.media_bench` (options: --photos, --clients, --database-url).

CPU figures, per photo:
- "Pillow alone": open, full decode, EXIF transpose, 320 px LANCZOS thumbnail, JPEG save,
  in this process;
- "our checks": media.images.examine on the same file (verify, structure/trailing-data scan,
  full decode, EXIF facts, the same thumbnail), in this process;
- "server": the user+system CPU the gunicorn workers spent per upload (HTTP, multipart
  parsing, hashing, fsyncs, checks, thumbnail, store, database, audit), read from /proc.
The ratios against "Pillow alone" are the overhead we add.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
from PIL import Image, ImageOps
from tusclient.client import TusClient

from media.images import examine
from server import create_app, migrations
from tests.factories import Factory

log = logging.getLogger("media_bench")

ROOT = Path(__file__).resolve().parent.parent
SECRET = "media-bench-secret-key-0123456789abcdef"
TUS_CHUNK = 256 * 1024
PHOTO_SIZE = (4000, 3000)
TAKEN_AT = "2026-11-21T08:15:30.125Z"


def base_photo() -> bytes:
    """A 12-megapixel JPEG of about 2 MB (fractal plus sensor-like noise), quality 80."""
    fractal = Image.effect_mandelbrot(PHOTO_SIZE, (-2.2, -1.2, 1.0, 1.2), 120).convert("RGB")
    noise = Image.effect_noise(PHOTO_SIZE, 40).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(fractal, noise, 0.16).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def unique_copy(jpeg: bytes, index: int) -> bytes:
    """The same picture with a JPEG comment segment after SOI, so no two files dedupe."""
    text = f"fieldsync bench photo {index} {uuid.uuid4()}".encode()
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return jpeg[:2] + segment + jpeg[2:]


def pillow_alone(path: Path) -> None:
    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image).convert("RGB")
        upright.thumbnail((320, 320), Image.Resampling.LANCZOS)
        upright.save(io.BytesIO(), format="JPEG", quality=82, optimize=True)


def cpu_per_call(function: Callable[[], None], repeats: int) -> float:
    """Seconds of process CPU per call (median of `repeats`)."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_cpu_seconds(master_pid: int) -> float:
    """utime + stime of the gunicorn workers (children of the master), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def start_gunicorn(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log_file = open(log_path, "w")  # noqa: SIM115 - closed by the caller with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    process.log_file = log_file
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()}")


def direct_upload(url: str, headers: dict[str, str], order_id: str, data: bytes) -> None:
    response = requests.post(
        f"{url}/api/v1/orders/{order_id}/media", headers=headers, timeout=120,
        data={"id": str(uuid.uuid4()), "kind": "photo",
              "sha256": hashlib.sha256(data).hexdigest(), "taken_at": TAKEN_AT},
        files={"file": ("photo.jpg", data, "image/jpeg")},
    )
    if response.status_code != 201:
        raise RuntimeError(f"direct upload failed: {response.status_code} {response.text}")


def tus_upload(url: str, headers: dict[str, str], order_id: str, data: bytes) -> None:
    client = TusClient(f"{url}/api/v1/uploads/", headers=headers)
    uploader = client.uploader(
        file_stream=io.BytesIO(data), chunk_size=TUS_CHUNK,
        metadata={"order_id": order_id, "media_id": str(uuid.uuid4()), "kind": "photo",
                  "filename": "photo.jpg", "taken_at": TAKEN_AT},
    )
    uploader.upload()


def run_uploads(upload: Callable[[bytes], None], photos: list[bytes], clients: int) -> float:
    """Upload every photo with `clients` threads; returns the wall time in seconds."""
    queue = list(photos)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                data = queue.pop()
            try:
                upload(data)
            except BaseException as error:  # noqa: BLE001 - reported after the run
                errors.append(error)
                return

    threads = [threading.Thread(target=work) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12, help="photos per upload mode")
    parser.add_argument("--clients", type=int, default=2, help="concurrent uploading clients")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    work = Path(tempfile.mkdtemp(prefix="media-bench-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    media_root = work / "media"
    migrations.upgrade(database_url)
    settings = {"testing": True, "database_url": database_url, "media_root": str(media_root),
                "secret_key": SECRET, "password_hash_method": "pbkdf2:sha256:1000"}
    factory = Factory(create_app(settings))
    team = factory.team(name=f"Bench crew {uuid.uuid4().hex[:6]}")
    _device, token = factory.device(team=team)
    order_id = str(factory.order(team=team).id)
    headers = {"Authorization": f"Bearer {token}"}

    log.info("making photos ...")
    original = base_photo()
    photo_mb = len(original) / 1e6
    sample = work / "sample.jpg"
    sample.write_bytes(original)
    thumb = work / "thumb.out"
    repeats = 5
    alone = cpu_per_call(lambda: pillow_alone(sample), repeats)
    checks = cpu_per_call(lambda: examine(sample, kind="photo", claimed_type="image/jpeg",
                                          filename="photo.jpg", thumbnail_path=thumb), repeats)

    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
    env.update({"FIELDSYNC_TESTING": "1", "FIELDSYNC_DATABASE_URL": database_url,
                "FIELDSYNC_MEDIA_ROOT": str(media_root), "FIELDSYNC_SECRET_KEY": SECRET})
    process, url = start_gunicorn(env, work / "gunicorn.log")
    results = {}
    try:
        direct_upload(url, headers, order_id, unique_copy(original, -1))  # warm both paths
        tus_upload(url, headers, order_id, unique_copy(original, -2))
        for mode, upload in (("direct", direct_upload), ("tus 256 KiB", tus_upload)):
            photos = [unique_copy(original, i) for i in range(args.photos)]
            cpu_before = worker_cpu_seconds(process.pid)
            wall = run_uploads(lambda data, up=upload: up(url, headers, order_id, data),
                               photos, args.clients)
            cpu = (worker_cpu_seconds(process.pid) - cpu_before) / len(photos)
            results[mode] = (sum(map(len, photos)) / 1e6 / wall, wall / len(photos), cpu)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.log_file.close()

    print(f"\nphotos: {args.photos} per mode, {photo_mb:.2f} MB each "
          f"({PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG), {args.clients} clients, gunicorn 2 workers, "
          f"database {database_url.split(':', 1)[0]}")
    print(f"{'mode':<14}{'MB/s':>8}{'s/photo (wall)':>16}{'server CPU ms/photo':>22}"
          f"{'x Pillow alone':>16}")
    for mode, (rate, wall, cpu) in results.items():
        print(f"{mode:<14}{rate:>8.1f}{wall:>16.3f}{cpu * 1000:>22.0f}{cpu / alone:>16.2f}")
    print(f"\nin-process CPU per photo: Pillow alone {alone * 1000:.0f} ms, "
          f"our checks + thumbnail {checks * 1000:.0f} ms (x{checks / alone:.2f})")


if __name__ == "__main__":
    main()
