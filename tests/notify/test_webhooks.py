"""Webhooks against a real local HTTP receiver and a real store (SQLite and PostgreSQL):
signatures verify, a receiver that is down then up gets the event, every attempt is logged,
bad URLs are refused in one line, secrets never show."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.notify import Notifier, verify
from jupyter_mlops.notify.payloads import check_url
from jupyter_mlops.store.webhooks import WebhookStore

SECRET = "s3cret-for-tests-only"


class Receiver:
    """A real HTTP server in a thread; answers each POST with the next status of ``statuses``
    (the last one repeats) and keeps what it received."""

    def __init__(self, port: int = 0, statuses=(200,)):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                    else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def notifier(store):
    n = Notifier(WebhookStore(store.url), user="tester", base_delay=0.05, max_delay=0.2,
                 timeout=5)
    yield n
    n.close()


def test_a_signed_event_verifies_and_its_delivery_is_logged(notifier, receiver):
    hook = notifier.add(receiver.url, ["run.finished"], secret=SECRET)
    (delivery,) = notifier.emit("run.finished", {"run_id": "abc123", "status": "FINISHED"})
    assert notifier.wait(30)
    ((headers, body),) = receiver.requests
    assert headers["X-Mlops-Event"] == "run.finished"
    assert headers["X-Mlops-Delivery"] == delivery
    ts, signature = headers["X-Mlops-Timestamp"], headers["X-Mlops-Signature"]
    assert signature.startswith("sha256=")
    assert verify(SECRET, ts, body, signature)
    assert not verify(SECRET, ts, body + b" ", signature)           # tampered body
    assert not verify("another secret", ts, body, signature)        # wrong key
    assert not verify(SECRET, ts, body, signature, now=int(ts) + 3600)  # a replay, later
    payload = json.loads(body)
    assert payload["event"] == "run.finished" and payload["data"]["run_id"] == "abc123"
    (attempt,) = notifier.deliveries(hook.id)
    assert (attempt.delivered, attempt.status, attempt.attempt, attempt.error) == \
        (True, 200, 1, None)
    shown = json.dumps([hook.to_dict(), notifier.list()[0].to_dict(), attempt.to_dict()])
    assert SECRET not in shown and hook.has_secret


def test_a_receiver_that_is_down_then_up_gets_the_event(notifier):
    with socket.socket() as s:  # a free port nobody listens on yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = notifier.add(f"http://127.0.0.1:{port}/hook", ["alert.fired"])
    notifier.emit("alert.fired", {"monitor": "churn", "message": "psi 0.4 > 0.2"})
    for _ in range(500):  # until the first refused attempt is in the log
        if notifier.deliveries(hook.id):
            break
        time.sleep(0.01)
    up = Receiver(port=port, statuses=(503, 200))  # up, but busy once
    try:
        assert notifier.wait(60)
    finally:
        up.close()
    attempts = sorted(notifier.deliveries(hook.id), key=lambda a: a.attempt)
    assert attempts[0].status is None and "Connection" in attempts[0].error
    assert [a.delivered for a in attempts] == [False] * (len(attempts) - 1) + [True]
    assert any(a.status == 503 and a.error == "HTTP 503 Service Unavailable"
               for a in attempts)
    assert len({a.delivery for a in attempts}) == 1 and len(up.requests) == 2


def test_it_gives_up_after_the_last_attempt_and_says_why(store):
    always_failing = Receiver(statuses=(500,))
    notifier = Notifier(WebhookStore(store.url), attempts=3, base_delay=0.01, max_delay=0.02)
    try:
        hook = notifier.add(always_failing.url, ["pipeline.failed"])
        notifier.emit("pipeline.failed", {"pipeline": "train", "step": "fit"})
        assert notifier.wait(30)
    finally:
        notifier.close()
        always_failing.close()
    attempts = notifier.deliveries(hook.id)
    assert sorted(a.attempt for a in attempts) == [1, 2, 3]
    assert not any(a.delivered for a in attempts) and {a.status for a in attempts} == {500}


def test_slack_format_and_event_filter(notifier, receiver):
    notifier.add(receiver.url, ["model.promoted"], format="slack")
    assert notifier.emit("run.finished", {"run_id": "x"}) == []  # not wanted: nothing sent
    notifier.emit("model.promoted", {"model": "churn", "version": 3, "alias": "champion"})
    assert notifier.wait(30)
    ((headers, body),) = receiver.requests
    assert "X-Mlops-Signature" not in headers  # no secret, no signature
    text = json.loads(body)
    assert list(text) == ["text"] and "model.promoted" in text["text"] \
        and "churn" in text["text"]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd",
                                 "javascript:alert(1)", "http://", "example.com/hook", "",
                                 "http://host:notaport/", "https://a\nb", 42, None])
def test_a_bad_url_is_one_line_and_nothing_is_stored(notifier, url):
    with pytest.raises(InvalidInputError) as info:
        notifier.add(url)
    assert "\n" not in str(info.value)
    assert notifier.list() == []


@pytest.mark.parametrize("kwargs", [{"events": ["run.exploded"]}, {"events": []},
                                    {"format": "xml"}, {"secret": ""}])
def test_bad_options_are_one_line(notifier, receiver, kwargs):
    with pytest.raises(InvalidInputError) as info:
        notifier.add(receiver.url, **kwargs)
    assert "\n" not in str(info.value) and notifier.list() == []


def test_remove_and_unknown_ids(notifier, receiver):
    hook = notifier.add(receiver.url)
    notifier.remove(hook.id)
    assert notifier.list() == []
    with pytest.raises(Exception, match="No webhook"):
        notifier.remove(hook.id)
    with pytest.raises(InvalidInputError):
        notifier.remove("1; drop table webhooks")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.builds(lambda s, rest: s + rest,
                                        st.sampled_from(["http://", "https://", "HTTP://",
                                                         "ftp://", "//"]),
                                        st.text(max_size=40)))
def test_any_text_is_an_http_url_with_a_host_or_one_refusal_line(text):
    try:
        accepted = check_url(text)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
    else:
        from urllib.parse import urlsplit

        parts = urlsplit(accepted)
        assert parts.scheme.lower() in ("http", "https") and parts.hostname


def test_the_client_tells_webhooks_when_a_run_ends(client, receiver):
    client.webhooks.add(receiver.url, ["run.finished", "run.failed"], secret=SECRET)
    done, failed = client.create_run(name="ok"), client.create_run(name="broken")
    client.end_run(done.id, "FINISHED")
    client.end_run(failed.id, "FAILED")
    killed = client.create_run(name="killed")
    client.end_run(killed.id, "KILLED")  # not an event webhooks can ask for
    assert client.webhooks.wait(30)
    events = {json.loads(body)["data"]["run_id"]: json.loads(body)["event"]
              for _, body in receiver.requests}
    assert events == {done.id: "run.finished", failed.id: "run.failed"}
    assert all(verify(SECRET, h["X-Mlops-Timestamp"], b, h["X-Mlops-Signature"])
               for h, b in receiver.requests)


def test_the_registry_tells_webhooks_of_proposals_and_promotions(client, receiver):
    from sklearn.linear_model import LogisticRegression

    client.webhooks.add(receiver.url, ["model.proposed", "model.promoted"])
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    version = client.registry.register_model(model, "notified-model")
    client.registry.set_alias("notified-model", "staging", version.version)
    request = client.registry.propose("notified-model", version.version, "champion")
    client.registry.approve(request.id)
    assert client.webhooks.wait(30)
    got = [(p["event"], p["data"]["alias"])
           for p in (json.loads(body) for _, body in receiver.requests)]
    assert sorted(got) == sorted([("model.promoted", "staging"),
                                  ("model.proposed", "champion"),
                                  ("model.promoted", "champion")])


def test_the_webhook_list_is_read_once_per_ttl_and_local_changes_at_once(store, receiver,
                                                                          monkeypatch):
    import jupyter_mlops.notify as notify

    reads = []
    hooks = WebhookStore(store.url)
    original = hooks.subscribers
    monkeypatch.setattr(hooks, "subscribers", lambda event: reads.append(event) or
                        original(event))
    mine = Notifier(hooks, user="ann", attempts=1)
    other = Notifier(WebhookStore(store.url), user="bob", attempts=1)  # another process's
    try:
        assert mine.emit("run.finished", {"run_id": "a" * 32}) == []
        assert mine.emit("run.finished", {"run_id": "b" * 32}) == []
        assert reads == ["run.finished"]  # the second end of a run paid no query
        hook = other.add(receiver.url, ["run.finished"])
        assert mine.emit("run.finished", {"run_id": "c" * 32}) == []  # not seen yet: TTL
        monkeypatch.setattr(notify, "SUBSCRIBERS_TTL", 0.0)
        assert len(mine.emit("run.finished", {"run_id": "d" * 32})) == 1  # seen after it
        monkeypatch.setattr(notify, "SUBSCRIBERS_TTL", 3600.0)
        mine.remove(hook.id)  # a change made here is seen at once, whatever the TTL
        assert mine.emit("run.finished", {"run_id": "e" * 32}) == []
        assert mine.wait(30)
    finally:
        mine.close()
        other.close()
