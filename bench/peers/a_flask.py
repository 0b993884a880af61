"""Peer A: a bare Flask endpoint answering {"msg": "success"} — the ceiling of Flask + gunicorn gthread."""

from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhook/event")
    def event():
        return jsonify({"msg": "success"})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
