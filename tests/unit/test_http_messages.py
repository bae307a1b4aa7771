"""HTTP API: sending now and as a job, replies, edits, recalls, and their errors."""

from __future__ import annotations

import json

import pytest

from lark_service.testing.fake_lark import FakeLark

from .http_support import MAX_ATTEMPTS, Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
CHAT = "oc_chat1"
PROBLEM = "application/problem+json"


def text_body(**kw: object) -> dict[str, object]:
    return {"receive_id": CHAT, "msg_type": "text", "content": {"text": "hi"}, **kw}


async def test_send_now_returns_the_message(api: Api, fake: FakeLark) -> None:
    r = await api.client.post("/v1/messages", json=text_body(uuid="u-1"), headers=api.send)
    assert r.status_code == 200, r.text
    msg = r.json()
    assert msg["message_id"].startswith("om_") and msg["chat_id"] == CHAT
    (req,) = [q for q in fake.requests if q.path == "/open-apis/im/v1/messages"]
    assert req.json()["uuid"] == "u-1" and req.json()["content"] == '{"text":"hi"}'


async def test_content_may_be_lark_json_string_and_app_id_chooses_the_app(
    api: Api, fake: FakeLark
) -> None:
    body = text_body(content='{"text":"yo"}', app_id="cli_app1")
    r = await api.client.post("/v1/messages", json=body, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["sender"]["id"] == "cli_app1"


async def test_respond_async_queues_a_job_that_the_worker_sends(api: Api, fake: FakeLark) -> None:
    headers = {**api.send, "Prefer": "respond-async"}
    r = await api.client.post("/v1/messages", json=text_body(), headers=headers)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.json()["status"] == "queued"
    assert r.headers["location"] == f"/v1/jobs/{job_id}"
    await api.queue.join()
    got = await api.client.get(f"/v1/jobs/{job_id}", headers=api.read)
    assert got.status_code == 200
    job = got.json()
    assert job["status"] == "sent" and job["message_id"].startswith("om_")
    assert job["app_id"] == "cli_app0" and job["attempts"] == 1
    sends = [q for q in fake.requests if q.path == "/open-apis/im/v1/messages"]
    assert [q.json()["uuid"] for q in sends] == [job_id]  # the job id is Lark's uuid


async def test_job_retried_on_5xx_then_sent_once(api: Api, fake: FakeLark) -> None:
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1)
    headers = {**api.send, "Prefer": "respond-async"}
    job_id = (await api.client.post("/v1/messages", json=text_body(), headers=headers)).json()[
        "job_id"
    ]
    await api.queue.join()
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=api.read)).json()
    assert job["status"] == "sent"
    assert len(fake.messages) == 1 and ("cli_app0", job_id) in fake.message_uuids


async def test_job_goes_dead_after_the_last_attempt(api: Api, fake: FakeLark) -> None:
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    headers = {**api.send, "Prefer": "respond-async"}
    job_id = (await api.client.post("/v1/messages", json=text_body(), headers=headers)).json()[
        "job_id"
    ]
    await api.queue.join()
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=api.read)).json()
    assert job["status"] == "dead" and job["attempts"] == MAX_ATTEMPTS
    assert job["error_msg"].startswith("ServerError")
    assert [j.job_id for j in await api.queue.dead_letters()] == [job_id]
    fake.clear_faults()
    assert await api.services.sending.replay_dead(job_id) == 1
    await api.queue.join()
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=api.read)).json()
    assert job["status"] == "sent"


async def test_permanent_lark_error_records_failed(api: Api, fake: FakeLark) -> None:
    headers = {**api.send, "Prefer": "respond-async"}
    body = text_body(content={"not_text": "x"})  # valid JSON, but Lark refuses it (230001)
    r = await api.client.post("/v1/messages", json=body, headers=headers)
    job_id = r.json()["job_id"]
    await api.queue.join()
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=api.read)).json()
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert job["error_code"] == 230001 and job["error_msg"].startswith("BadRequestError")
    assert job["log_id"]
    assert (await api.queue.depth()).dead == 0 and not fake.messages


async def test_async_with_uuid_is_idempotent(api: Api) -> None:
    headers = {**api.send, "Prefer": "respond-async"}
    first = await api.client.post("/v1/messages", json=text_body(uuid="job-1"), headers=headers)
    again = await api.client.post("/v1/messages", json=text_body(uuid="job-1"), headers=headers)
    assert first.json()["job_id"] == again.json()["job_id"] == "job-1"
    await api.queue.join()
    jobs = await api.services.sending.jobs.list_jobs()
    assert [j.job_id for j in jobs] == ["job-1"]


async def test_unknown_job_is_404_problem(api: Api) -> None:
    r = await api.client.get("/v1/jobs/nope", headers=api.read)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["error"] == "NotFoundError"


async def test_bad_bodies_rejected_before_any_lark_call(api: Api, fake: FakeLark) -> None:
    missing = {"msg_type": "text", "content": {"text": "x"}}
    r = await api.client.post("/v1/messages", json=missing, headers=api.send)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "receive_id" in r.json()["detail"]
    assert any(e.get("field") == "receive_id" for e in r.json()["errors"])
    r = await api.client.post(
        "/v1/messages",
        content=b"{not json",
        headers={**api.send, "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    r = await api.client.post("/v1/messages", json=text_body(msg_type="smoke"), headers=api.send)
    assert r.status_code == 422 and r.json()["error"] == "ConfigError"
    assert "msg_type" in r.json()["detail"]
    r = await api.client.post(
        "/v1/messages", json=text_body(receive_id_type="phone"), headers=api.send
    )
    assert r.status_code == 422
    async_headers = {**api.send, "Prefer": "respond-async"}
    r = await api.client.post(
        "/v1/messages", json=text_body(app_id="cli_nope"), headers=async_headers
    )
    assert r.status_code == 404 and r.json()["error"] == "UnknownAppError"
    assert not [q for q in fake.requests if q.path.startswith("/open-apis/im/")]


async def test_body_over_the_limit_is_413(api: Api) -> None:
    big = text_body(content={"text": "x" * (2 * 1024 * 1024)})
    r = await api.client.post("/v1/messages", json=big, headers=api.send)
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)


async def test_lark_error_passes_through_as_problem(api: Api, fake: FakeLark) -> None:
    fake.inject_fault("rate_limit", path_prefix="/open-apis/im/", count=100, retry_after=3)
    r = await api.client.post("/v1/messages", json=text_body(), headers=api.send)
    assert r.status_code == 429 and r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["error"] == "RateLimitedError" and problem["code"] in (99991400, 230020)
    assert problem["app_id"] == "cli_app0" and "traceback" not in r.text.lower()
    assert r.headers["retry-after"] == "3"


async def test_reply_edit_recall(api: Api, fake: FakeLark) -> None:
    sent = (await api.client.post("/v1/messages", json=text_body(), headers=api.send)).json()
    mid = sent["message_id"]
    r = await api.client.post(
        f"/v1/messages/{mid}/reply",
        json={"msg_type": "text", "content": {"text": "re"}},
        headers=api.send,
    )
    assert r.status_code == 200 and r.json()["parent_id"] == mid
    r = await api.client.put(
        f"/v1/messages/{mid}",
        json={"msg_type": "text", "content": json.dumps({"text": "edited"})},
        headers=api.send,
    )
    assert r.status_code == 200, r.text
    r = await api.client.delete(f"/v1/messages/{mid}", headers=api.send)
    assert r.status_code == 204
    assert fake.requests[-1].method == "DELETE"
    r = await api.client.put(
        f"/v1/messages/{mid}", json={"msg_type": "image", "content": {}}, headers=api.send
    )
    assert r.status_code == 422
