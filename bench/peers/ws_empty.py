"""The long-connection peer: lark-oapi's own `ws.Client` against the sandbox, with an empty message handler
(what the SDK itself costs per event: frame decode, dispatch, answer frame). `python -m bench.peers.ws_empty`;
stops on SIGTERM (the benchmark stops it by its PID)."""

import os

import lark_oapi as lark


def on_message(data: lark.im.v1.P2ImMessageReceiveV1) -> None:
    return None


def main() -> None:
    handler = (lark.EventDispatcherHandler.builder("", "", lark.LogLevel.WARNING)
               .register_p2_im_message_receive_v1(on_message).build())
    client = lark.ws.Client(os.environ["FEISHU_APP_ID"], os.environ["FEISHU_APP_SECRET"],
                            log_level=lark.LogLevel.WARNING, event_handler=handler,
                            domain=os.environ["FEISHU_BASE_URL"])
    client.start()


if __name__ == "__main__":
    main()
