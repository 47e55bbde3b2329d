"""The official `openai` client, unchanged, against a live uvicorn server on a loopback port."""

from __future__ import annotations

import pytest
from server_fakes import FakeEngine, fake_run, serve_loopback

openai = pytest.importorskip("openai")


@pytest.fixture
def live(tmp_path):
    """(base_url, token) of a studio served by uvicorn in a thread, with a token set."""
    from lorastudio.server import create_app

    home = tmp_path / "home"
    fake_run(home / "runs", "wukong")
    app = create_app(engine=FakeEngine(), home=home, token="tok-123", start_runner=False)
    with serve_loopback(app) as url:
        yield f"{url}/v1", "tok-123"


def test_models_plain_and_streamed(live):
    base_url, token = live
    client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-base", "wukong"]

    reply = client.chat.completions.create(model="wukong", messages=[{"role": "user", "content": "你好"}], temperature=0)
    assert reply.choices[0].message.content == "[wukong] you said: 你好"
    assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens > 0

    base = client.chat.completions.create(model="fake-base", messages=[{"role": "user", "content": "hi"}])
    assert base.choices[0].message.content == "[base] you said: hi"

    chunks = list(client.chat.completions.create(model="wukong", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[wukong] you said: hi"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None


def test_errors_reach_the_client_as_openai_errors(live):
    base_url, token = live
    with pytest.raises(openai.NotFoundError) as e:
        openai.OpenAI(base_url=base_url, api_key=token, max_retries=0).chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}])
    assert "no finished adapter named 'nope'" in str(e.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
