"""pywa's webhook receiver, the peer reference of the webhook-ingest benchmark.

A pywa ``WhatsApp`` client on a FastAPI app, with the signature check on
(``app_secret`` set, ``validate_updates=True``), one message handler and one
status handler that do trivial work. pywa answers 200 once the signature is
checked and runs the handlers as a FastAPI background task.

pywa ships two clients: ``pywa_async.WhatsApp`` (async handlers, run on the
event loop) and ``pywa.WhatsApp`` (sync handlers, run in a thread pool). The
async one is used by default because it is the faster of the two on this
benchmark, so the comparison is against pywa at its best; set BENCH_PYWA_SYNC=1
for the sync one (the ``pywa-sync`` target of bench/webhooks.sh).

Configured by environment variables (the bench script sets them):
  BENCH_APP_SECRET (required), BENCH_VERIFY_TOKEN, BENCH_PHONE_NUMBER_ID,
  BENCH_WABA_ID, BENCH_PYWA_SYNC.

Run with uvicorn, one worker per core, e.g.:
  uvicorn receiver:app --app-dir bench/pywa --host 127.0.0.1 --port 8081 \
      --workers 2 --log-level warning --no-access-log

No token and no callback_url are given, so pywa never calls the Graph API
(nothing is registered at startup).
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

SYNC = os.environ.get("BENCH_PYWA_SYNC", "0") == "1"
if SYNC:
    from pywa import WhatsApp, types
else:
    from pywa_async import WhatsApp, types  # type: ignore[no-redef]

# Warnings only (e.g. a rejected signature), so that logging does not dominate.
logging.basicConfig(level=logging.WARNING)
logging.getLogger("pywa").setLevel(logging.WARNING)
logging.getLogger("pywa_async").setLevel(logging.WARNING)

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

wa = WhatsApp(
    phone_id=os.environ.get("BENCH_PHONE_NUMBER_ID", "106540352242922"),
    waba_id=os.environ.get("BENCH_WABA_ID", "102290129340398"),
    token=None,
    server=app,
    webhook_endpoint="/webhooks/whatsapp",
    verify_token=os.environ.get("BENCH_VERIFY_TOKEN", "bench-verify-token"),
    app_secret=os.environ["BENCH_APP_SECRET"],
    validate_updates=True,
    callback_url=None,
)

# Trivial work, per worker process: count what was handled.
handled = {"messages": 0, "statuses": 0}


def _message(msg: types.Message) -> None:
    handled["messages"] += 1
    _ = (msg.id, msg.from_user.wa_id, msg.text)


def _status(status: types.MessageStatus) -> None:
    handled["statuses"] += 1
    _ = (status.id, status.status)


if SYNC:

    @wa.on_message
    def on_message(_: WhatsApp, msg: types.Message) -> None:
        _message(msg)

    @wa.on_message_status
    def on_message_status(_: WhatsApp, status: types.MessageStatus) -> None:
        _status(status)

else:

    @wa.on_message
    async def on_message(_: WhatsApp, msg: types.Message) -> None:
        _message(msg)

    @wa.on_message_status
    async def on_message_status(_: WhatsApp, status: types.MessageStatus) -> None:
        _status(status)


@app.get("/bench/handled")
def bench_handled() -> dict[str, int | str]:
    """How many updates this worker's handlers ran (to check that they fire)."""
    return {**handled, "pid": os.getpid(), "client": "sync" if SYNC else "async"}
