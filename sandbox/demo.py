"""`approval-bot demo`: the sandbox, the bot and the playground page on 127.0.0.1.

`start_demo` is what `bot/cli.py` and the browser test both run. The sandbox stays independent of the bot: the
caller passes a factory that builds the bot's WSGI app from the demo environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import playground
from sandbox.app import create_sandbox_app
from sandbox.sender import EventSender
from sandbox.server import ServerThread
from sandbox.state import EventTarget, SandboxState


def attach_bot(state: SandboxState, sandbox_server: ServerThread, bot_url: str, env: Mapping[str, str]) -> str:
    """Point the playground and the approval notifications at the bot; return the playground's URL.

    The playground is registered on the sandbox's Flask app here unless `start_demo` did it before the server
    started; Flask refuses that once the app has answered a request, hence the clear error.
    """
    app = sandbox_server.app
    try:
        pg = playground.install(app, state)
    except AssertionError as err:  # Flask: "The setup method 'register_blueprint' can no longer be called …"
        raise RuntimeError("register the playground (sandbox.playground.install) before the sandbox serves "
                           "its first request") from err
    encrypt_key, token = env["FEISHU_ENCRYPT_KEY"], env["FEISHU_VERIFICATION_TOKEN"]
    target = EventTarget(url=bot_url.rstrip("/"), encrypt_key=encrypt_key, verification_token=token)
    pg.sender = EventSender(bot_url, encrypt_key=encrypt_key, verification_token=token, state=state)
    pg.bot_url = bot_url
    pg.locale = env.get("BOT_LOCALE") or "zh_cn"
    state.event_target = target
    return f"{sandbox_server.url}/playground"


@dataclass
class Demo:
    state: SandboxState
    sandbox: ServerThread
    bot: ServerThread
    env: dict[str, str]
    playground_url: str

    @property
    def bot_app(self) -> Any:
        return self.bot.app

    def stop(self, finish_bot: Callable[[], None] | None = None) -> None:
        """Stop both servers; faults are cleared and held requests released first so nothing waits on them.

        `finish_bot` runs between the two: the work the bot has in hand (other copies of a card, a late update)
        then ends against a sandbox still up, instead of waiting out its retries against a stopped one."""
        self.state.clear_faults()
        self.state.release_holds()
        self.bot.stop()
        if finish_bot is not None:
            finish_bot()
        self.sandbox.stop()


def start_demo(make_bot: Callable[[dict[str, str]], Any], make_env: Callable[[str], dict[str, str]], *,
               port: int = 0, sandbox_port: int = 0, state: SandboxState | None = None) -> Demo:
    """Start the sandbox (with the playground), then the bot built by `make_bot(make_env(sandbox_url))`.

    Port 0 picks a free port. On failure, whatever already started is stopped again.
    """
    state = state if state is not None else SandboxState()
    app = create_sandbox_app(state)
    playground.install(app, state)
    sandbox = ServerThread(app, port=sandbox_port).start()
    try:
        env = make_env(sandbox.url)
        bot = ServerThread(make_bot(env), port=port).start()
    except BaseException:
        sandbox.stop()
        raise
    try:
        url = attach_bot(state, sandbox, bot.url, env)
    except BaseException:
        bot.stop()
        sandbox.stop()
        raise
    return Demo(state, sandbox, bot, env, url)
