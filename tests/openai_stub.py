"""A local OpenAI-compatible chat server for tests: plain JSON or server-sent events.

First call of a conversation: it asks for the funnel tool (arguments split over several stream
chunks, as real servers do). Once the conversation holds a tool result, it answers in prose that
cites the result by reference. It only listens on 127.0.0.1 and records the requests it got.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOL_ARGS = {"steps": ["pricing_view", "signup"], "by": "device"}
ANSWER = ("On mobile only [[R{rid}.groups.1.steps.1.conversion_from_previous|pct]] of customers "
          "who see pricing sign up, against [[R{rid}.groups.0.steps.1.conversion_from_previous"
          "|pct]] on desktop.")


class StubHandler(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args) -> None:  # keep test output clean
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubHandler.requests.append(body)
        tool_messages = [m for m in body["messages"] if m.get("role") == "tool"]
        if not tool_messages:
            reply = {"tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "funnel", "arguments": json.dumps(TOOL_ARGS)}}]}
            finish = "tool_calls"
        else:
            rid = tool_messages[-1]["content"].split("]")[0].lstrip("[R")
            reply = {"content": ANSWER.format(rid=rid)}
            finish = "stop"
        if body.get("stream"):
            self._stream(reply, finish, body["model"])
        else:
            message = {"role": "assistant", "content": reply.get("content")}
            if "tool_calls" in reply:
                message["tool_calls"] = reply["tool_calls"]
            self._json({"id": "cmpl-1", "object": "chat.completion", "created": 0,
                        "model": body["model"], "choices": [{"index": 0, "message": message,
                                                             "finish_reason": finish}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                  "total_tokens": 2}})

    def _json(self, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, reply: dict, finish: str, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(delta: dict, finish_reason=None) -> None:
            chunk = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0,
                     "model": model, "choices": [{"index": 0, "delta": delta,
                                                  "finish_reason": finish_reason}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        send({"role": "assistant", "content": ""})
        if "tool_calls" in reply:
            call = reply["tool_calls"][0]
            arguments = call["function"]["arguments"]
            send({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                  "function": {"name": call["function"]["name"],
                                               "arguments": ""}}]})
            for start in range(0, len(arguments), 12):
                send({"tool_calls": [{"index": 0, "function": {
                    "arguments": arguments[start:start + 12]}}]})
        else:
            text = reply["content"]
            for start in range(0, len(text), 20):
                send({"content": text[start:start + 20]})
        send({}, finish)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class StubServer:
    def __enter__(self) -> str:
        StubHandler.requests = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
