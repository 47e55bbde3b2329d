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


@pytest.fixture
def live_real(tmp_path, tmp_path_factory, tiny_model_dir):
    """The studio on the real tiny model (its folder is 'model'), with a trained adapter."""
    import shutil

    from server_fakes import tiny_trained_run

    from lorastudio.server import create_app

    home = tmp_path / "home"
    shutil.copytree(tiny_trained_run(tmp_path_factory.getbasetemp(), tiny_model_dir), home / "runs" / "wukong-tiny")
    app = create_app(home=home, model=str(tiny_model_dir), start_runner=False, device="cpu")
    with serve_loopback(app) as url:
        yield f"{url}/v1"


def test_streaming_says_what_the_plain_answer_says(live_real, tiny_model_dir):
    """Cut by max_tokens: finish_reason "length" and the same completion tokens, streamed or not;
    the base is listed (and can be asked) by its name, not by its path on this machine."""
    client = openai.OpenAI(base_url=live_real, api_key="none", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert ids == [tiny_model_dir.name, "wukong-tiny"] and "/" not in ids[0]
    ask = {"messages": [{"role": "user", "content": "你是谁？"}], "max_tokens": 4, "temperature": 0}
    for model in ("wukong-tiny", tiny_model_dir.name):
        plain = client.chat.completions.create(model=model, **ask)
        chunks = list(client.chat.completions.create(model=model, stream=True, stream_options={"include_usage": True}, **ask))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert plain.choices[0].finish_reason == "length" and finish == ["length"], (plain, finish)
        assert plain.usage.completion_tokens == chunks[-1].usage.completion_tokens == 4
        assert streamed.strip() == plain.choices[0].message.content
        assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens > 0
    # a long enough budget: the answer ends by itself, "stop" both ways
    long = {**ask, "max_tokens": 200}
    plain = client.chat.completions.create(model="wukong-tiny", **long)
    chunks = list(client.chat.completions.create(model="wukong-tiny", stream=True, stream_options={"include_usage": True}, **long))
    if plain.usage.completion_tokens < 200:  # the tiny random model may run to the limit; then both say "length"
        assert plain.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
