"""A local Feishu Open Platform emulator for approval-bot (DESIGN.md, "Sandbox").

- `sandbox.data`: the sales team (users, chats, native instances `INSTANCES`, attendance records `RECORD_IDS`).
- `sandbox.state.SandboxState`: the world, the call log, fault injection, issued tokens.
- `sandbox.app.create_sandbox_app(state)`: the Flask app the real lark-oapi client talks to.
- `sandbox.sender.EventSender`: Feishu's side of the webhook (events and callbacks, encrypted and signed).
- `sandbox.server.ServerThread` / `run_sandbox`: serving on 127.0.0.1; `sandbox.testing`: the pytest plugin.

The sandbox never imports `bot`, `cards`, `handlers` or `lark_oapi`: it is an independent reading of the spec.
"""
