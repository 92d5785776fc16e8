"""DeviceClient: what a tablet app calls. Crew actions write locally first; `sync()` talks.

Every action ticks the persisted HLC, enqueues its mutation and updates the local view in
one store transaction before it returns, so the app may crash at any moment afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from clients.python import hlc
from clients.python.errors import AuthenticationFailed, DeviceRevoked, SyncError
from clients.python.optimistic import apply_mutation, attach_media
from clients.python.pull import CursorExpired, Progress, pull_changes
from clients.python.push import push_outbox
from clients.python.result import SyncResult
from clients.python.store import Mutation, PendingUpload, Store
from clients.python.timestamps import normalise, now_rfc3339, rfc3339_to_ms
from clients.python.transport import Transport
from clients.python.uploads import UploadRefused, upload_one

log = logging.getLogger(__name__)

SDK_VERSION = "fieldsync-python-sdk/0.1"
#: Test hook: the process SIGKILLs itself at this point of a push: `before_settle` (answer
#: received, not yet stored) or `after_push` (results stored, pull not started).
CRASH_ENV = "FIELDSYNC_CLIENT_CRASH_AT"
#: Refresh the device token when less than this share of its lifetime is left.
REFRESH_FRACTION = 0.2


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def token_claims(token: str) -> dict[str, Any]:
    """The JWT payload, unverified: the device only needs `did`, `sub` and `exp` from it."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _token_from(body: dict[str, Any]) -> str:
    for key in ("token", "device_token", "access_token"):
        if isinstance(body.get(key), str):
            return body[key]
    raise SyncError(f"no token in the server's answer (keys: {sorted(body)})")


def location(lat: float, lon: float, accuracy_m: float | None = None) -> dict[str, float]:
    loc = {"lat": lat, "lon": lon}
    if accuracy_m is not None:
        loc["accuracy_m"] = accuracy_m
    return loc


class DeviceClient:
    """One enrolled tablet: its store, its clock and its connection to the server."""

    def __init__(self, store_path: str | Path, *, base_url: str | None = None,
                 transport_options: dict[str, Any] | None = None) -> None:
        self.store = Store(store_path)
        if base_url:
            self.store.put("base_url", base_url.rstrip("/"))
        url = self.store.get("base_url")
        if not url:
            raise SyncError("this store has no server; enroll the device first")
        self.device_id: str = self.store.get("device_id") or ""
        self.transport = Transport(url, token=lambda: self.store.get("token"),
                                   **(transport_options or {}))

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def enroll(cls, base_url: str, enrollment_code: str, store_path: str | Path, *,
               device_info: dict[str, Any] | None = None,
               transport_options: dict[str, Any] | None = None) -> DeviceClient:
        """Exchange a one-time enrollment code for this tablet's device token."""
        transport = Transport(base_url, **(transport_options or {}))
        try:
            response = transport.request(
                "POST", "/api/v1/devices/enroll", retry=False,
                json={"enrollment_code": enrollment_code,
                      "device_info": device_info or {"app_version": SDK_VERSION,
                                                     "model": platform.platform()[:200]}})
        finally:
            transport.close()
        return cls.from_token(base_url, _token_from(response.json()), store_path,
                              transport_options=transport_options)

    @classmethod
    def from_token(cls, base_url: str, token: str, store_path: str | Path, *,
                   transport_options: dict[str, Any] | None = None) -> DeviceClient:
        """A store bound to a device token issued by an admin (or by enrollment)."""
        store = Store(store_path)
        claims = token_claims(token)
        with store.transaction():
            store.put("base_url", base_url.rstrip("/"))
            store.put("token", token)
            store.put("device_id", str(claims["did"]))
            store.put("user_id", str(claims["sub"]))
            store.put("revoked", None)
        store.close()
        return cls(store_path, transport_options=transport_options)

    def close(self) -> None:
        self.transport.close()
        self.store.close()


    @property
    def revoked(self) -> bool:
        return self.store.get("revoked") == "1"

    # -- reading -----------------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """My orders as the tablet shows them: the server's state plus my unsent work."""
        urgency = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
        return sorted(self.store.views(),
                      key=lambda o: (urgency.get(o.get("priority"), 9), o.get("number") or ""))

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.store.view(order_id)

    def rejections(self) -> list[Mutation]:
        """Mutations the server refused, with its code and detail; never silently dropped."""
        return self.store.mutations("rejected")

    def pending(self) -> list[Mutation]:
        return self.store.pending()

    def pending_uploads(self) -> list[PendingUpload]:
        return self.store.uploads("pending")

    def refused_uploads(self) -> list[PendingUpload]:
        """Files the server will never take (not an image, order gone), with its reason."""
        return self.store.uploads("refused")

    # -- the clock ---------------------------------------------------------------------------

    def _clock(self) -> hlc.ClockState:
        return hlc.ClockState(int(self.store.get("hlc_wall", "0") or 0),
                              int(self.store.get("hlc_counter", "0") or 0))

    def _save_clock(self, state: hlc.ClockState) -> None:
        with self.store.transaction():
            self.store.put("hlc_wall", str(state.wall_ms))
            self.store.put("hlc_counter", str(state.counter))

    def next_stamp(self) -> str:
        with self.store.transaction():
            state = hlc.tick(self._clock(), hlc.wall_clock_ms())
            self._save_clock(state)
        return hlc.format_stamp(state, self.device_id)

    def observe_server_time(self, server_time: str) -> None:
        with self.store.transaction():
            state = hlc.observe(self._clock(), rfc3339_to_ms(server_time))
            self._save_clock(state)

    # -- crew actions ------------------------------------------------------------------------

    def _record(self, kind: str, order_id: str | None, data: dict[str, Any],
                at: str | None = None) -> str:
        """Stamp, enqueue and apply locally, all in one transaction. Returns the mutation id."""
        mutation_id = str(uuid.uuid4())
        with self.store.transaction():
            view = self.store.view(order_id) if order_id else None
            mutation = {"id": mutation_id, "order_id": order_id, "type": kind,
                        "hlc": self.next_stamp(), "at": at or now_rfc3339(),
                        "base_version": view.get("version") if view else None, "data": data}
            self.store.enqueue(mutation)
            if view is not None and order_id is not None:
                self.store.set_view(order_id, apply_mutation(view, mutation))
        return mutation_id

    def depart(self, order_id: str, departed_at: str | dt.datetime | None = None) -> str:
        return self._record("depart", order_id, {"departed_at": normalise(departed_at)})

    def arrive(self, order_id: str, location: dict[str, float],
               arrived_at: str | dt.datetime | None = None) -> str:
        return self._record("arrive", order_id,
                            {"arrived_at": normalise(arrived_at), "location": location})

    def set_cause(self, order_id: str, cause_code: str, cause_text: str = "") -> str:
        return self._record("set_cause", order_id,
                            {"cause_code": cause_code, "cause_text": cause_text})

    def set_eta(self, order_id: str, eta: str | dt.datetime) -> str:
        return self._record("set_eta", order_id, {"eta": normalise(eta)})

    def complete(self, order_id: str, resolution_code: str, resolution_text: str = "", *,
                 completed_at: str | dt.datetime | None = None,
                 signature_media_id: str | None = None) -> str:
        data: dict[str, Any] = {"completed_at": normalise(completed_at),
                                "resolution_code": resolution_code,
                                "resolution_text": resolution_text}
        if signature_media_id:
            data["signature_media_id"] = signature_media_id
        return self._record("complete", order_id, data)

    def add_note(self, order_id: str, text: str) -> str:
        return self._record("add_note", order_id, {"text": text})

    def report_location(self, location: dict[str, float],
                        at: str | dt.datetime | None = None) -> str:
        when = normalise(at)
        return self._record("report_location", None, {"location": location, "at": when}, at=when)

    def attach_photo(self, order_id: str, path: str | Path, *,
                     taken_at: str | dt.datetime | None = None) -> str:
        return self._attach(order_id, path, "photo", taken_at)

    def attach_signature(self, order_id: str, path: str | Path, *,
                         taken_at: str | dt.datetime | None = None) -> str:
        return self._attach(order_id, path, "signature", taken_at)

    def _attach(self, order_id: str, path: str | Path, kind: str,
                taken_at: str | dt.datetime | None) -> str:
        """Queue a file for upload; the bytes stay where they are until they reach the server."""
        path = Path(path).resolve()
        content = path.read_bytes()
        media = PendingUpload(
            media_id=str(uuid.uuid4()), order_id=order_id, kind=kind, path=str(path),
            sha256=hashlib.sha256(content).hexdigest(), size=len(content),
            taken_at=normalise(taken_at), filename=path.name, upload_url=None, state="pending",
            error=None)
        with self.store.transaction():
            self.store.add_upload(media)
            view = self.store.view(order_id)
            if view is not None:
                self.store.set_view(order_id, attach_media(view, self._media_summary(media)))
        return media.media_id

    @staticmethod
    def _media_summary(media: PendingUpload) -> dict[str, Any]:
        return {"id": media.media_id, "kind": media.kind, "sha256": media.sha256,
                "pending_upload": True}

    # -- sync --------------------------------------------------------------------------------

    def sync(self, progress: Progress | None = None) -> SyncResult:
        """Push, upload, pull, rebase. Raises DeviceRevoked; other failures go to `errors`."""
        if self.revoked:
            raise DeviceRevoked()
        result = SyncResult()
        try:
            self._refresh_token_if_due()
            push_outbox(self.store, self.transport, result, self.observe_server_time,
                        checkpoint=_crash_point)
            self._upload(result, progress)
            self._pull(result, progress)
        except DeviceRevoked:
            self.store.put("revoked", "1")
            raise
        except SyncError as error:
            result.errors.append(str(error))
        finally:
            self.rebase()
        return result

    def _upload(self, result: SyncResult, progress: Progress | None) -> None:
        pending = self.store.uploads("pending")
        for done, upload in enumerate(pending):
            try:
                upload_one(self.store, self.transport, upload)
            except UploadRefused as error:
                self.store.finish_upload(upload.media_id, "refused", f"{error.code}: {error}")
                result.errors.append(f"upload {upload.media_id} refused: {error}")
                continue
            except AuthenticationFailed:
                raise
            except SyncError as error:
                result.errors.append(f"upload {upload.media_id} not finished: {error}")
                continue
            self.store.finish_upload(upload.media_id, "done")
            result.uploaded += 1
            if progress is not None:
                progress("upload", done + 1, len(pending) - done - 1)

    def _pull(self, result: SyncResult, progress: Progress | None) -> None:
        full = False
        for _ in range(3):
            try:
                outcome = pull_changes(self.store, self.transport, full=full, progress=progress)
            except CursorExpired:
                log.info("cursor expired: pulling everything again, keeping unsent work")
                result.full_resync = full = True
                continue
            result.pulled += outcome.changes
            if outcome.server_time:
                self.observe_server_time(outcome.server_time)
            result.digest_ok = outcome.digest_ok
            if outcome.digest_ok:
                return
            log.warning("scope digest mismatch (%s != %s): resync from no cursor",
                        outcome.local_digest, outcome.server_digest)
            result.full_resync = full = True
        result.errors.append("scope digest still differs after a full resync")

    def rebase(self) -> None:
        """The local view := the server's state with my still-unsent work re-applied on top."""
        pending_by_order: dict[str, list[Mutation]] = {}
        for mutation in self.store.pending():
            if mutation.order_id:
                pending_by_order.setdefault(mutation.order_id, []).append(mutation)
        uploads = self.store.uploads("pending")
        with self.store.transaction():
            self.store.clear_views()
            for order_id, order in self.store.entity_items("order"):
                view = {**order, "id": order.get("id", order_id)}
                for mutation in pending_by_order.get(order_id, []):
                    view = apply_mutation(view, {"id": mutation.id, "type": mutation.type,
                                                 "data": mutation.data, "hlc": mutation.hlc,
                                                 "at": mutation.at})
                for upload in uploads:
                    if upload.order_id == order_id:
                        view = attach_media(view, self._media_summary(upload))
                self.store.set_view(order_id, view)

    # -- token -------------------------------------------------------------------------------

    def _refresh_token_if_due(self) -> None:
        token = self.store.get("token")
        if not token:
            raise AuthenticationFailed("no device token: enroll the device first")
        claims = token_claims(token)
        lifetime = claims.get("exp", 0) - claims.get("iat", 0)
        if claims.get("exp", 0) - time.time() > lifetime * REFRESH_FRACTION:
            return
        self.refresh_token()

    def refresh_token(self) -> None:
        """Swap the device token for a fresh one (POST /auth/refresh)."""
        response = self.transport.request("POST", "/api/v1/auth/refresh")
        self.store.put("token", _token_from(response.json()))


__all__ = ["DeviceClient", "location", "token_claims"]
