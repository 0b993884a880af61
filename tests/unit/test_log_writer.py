"""bot.logs.BackgroundHandler: the request's thread queues, one writer thread formats and writes, in order,
with the arguments as they were when the line was logged; drained on demand (and at exit)."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import BackgroundHandler, JsonFormatter


def test_lines_are_written_in_order_by_the_writer_with_the_arguments_of_their_moment():
    out = io.StringIO()
    stream = logging.StreamHandler(out)
    stream.setFormatter(JsonFormatter())
    handler = BackgroundHandler(stream)
    logger = logging.getLogger("test.log_writer")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        changing = ["first"]
        logger.info("value %s", changing)
        changing[0] = "changed"
        for i in range(50):
            logger.info("line %d", i, extra={"status": 200})
        handler.drain()
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["msg"] == "value ['first']"
    assert [x["msg"] for x in lines[1:]] == [f"line {i}" for i in range(50)] and lines[1]["status"] == 200
