"""A JetStream stream of its own for a test, on the NATS server at 127.0.0.1:4222 (`nats-server -js`;
.ci/run starts it). A test fails, never skips, when the server does not answer."""

import asyncio
import contextlib
import json
import uuid

import pytest

NATS_URL = "nats://127.0.0.1:4222"


def run(coroutine):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def _connect():
    import nats

    try:
        return await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False)
    except Exception as error:
        pytest.fail(f"NATS JetStream does not answer on {NATS_URL} ({error!r}): start `nats-server -js` (.ci/run does)")


async def _ping() -> None:
    nc = await _connect()
    await nc.close()


async def _messages(stream: str) -> list[tuple[str, dict, dict]]:
    from nats.js.errors import NotFoundError

    nc = await _connect()
    try:
        js = nc.jetstream(timeout=30)
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        found = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            with contextlib.suppress(NotFoundError):
                message = await js.get_msg(stream, seq)
                found.append((message.subject, json.loads(message.data), dict(message.headers or {})))
        return found
    finally:
        await nc.close()


async def _count(stream: str) -> int:
    from nats.js.errors import NotFoundError

    nc = await _connect()
    try:
        try:
            return (await nc.jetstream(timeout=30).stream_info(stream)).state.messages
        except NotFoundError:
            return 0
    finally:
        await nc.close()


async def _delete(stream: str) -> None:
    from nats.js.errors import NotFoundError

    nc = await _connect()
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream(timeout=30).delete_stream(stream)
    finally:
        await nc.close()


async def _create(stream: str, prefix: str, **config) -> None:
    nc = await _connect()
    try:
        await nc.jetstream(timeout=30).add_stream(name=stream, subjects=[f"{prefix}.>"], **config)
    finally:
        await nc.close()


class Stream:
    def __init__(self):
        tag = uuid.uuid4().hex[:10]
        self.name = f"TEST_{tag.upper()}"
        self.prefix = f"test_{tag}"
        self.url = NATS_URL

    def messages(self):
        """(subject, CloudEvent, headers) of every message in the stream, in stream order."""
        return run(_messages(self.name))

    def count(self) -> int:
        return run(_count(self.name))

    def create(self, **config):
        run(_create(self.name, self.prefix, **config))

    def relay_args(self) -> list[str]:
        return ["--url", self.url, "--stream", self.name, "--subject-prefix", self.prefix]

    def delete(self):
        run(_delete(self.name))


@contextlib.contextmanager
def nats_stream():
    stream = Stream()
    run(_ping())  # fails the test now if NATS is down
    try:
        yield stream
    finally:
        stream.delete()


def assert_each_event_once_in_order(messages, expected_ids):
    """Every expected event once, and each config's (subject's) events in increasing version."""
    ids = [event["id"] for _, event, _ in messages]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    missing = sorted(set(expected_ids) - set(ids))
    assert not repeated and not missing, f"{len(ids)} messages, repeated {repeated[:5]}, missing {missing[:5]}"
    assert sorted(ids) == sorted(expected_ids)
    assert len(ids) == len(set(ids))
    last_version: dict[str, int] = {}
    for subject, event, headers in messages:
        assert headers.get("Nats-Msg-Id") == event["id"]
        assert subject.endswith(f".{event['projectid']}.{event['subject']}")
        version = int(event["sequence"])
        assert version > last_version.get(subject, 0), f"{subject}: version {version} after {last_version[subject]}"
        last_version[subject] = version
