# An OTA through the asyncio API (esp_https_ota.aio) beside a task that ticks every 10 ms.
# usage: aio_run.py MODE URL CA_PEM_PATH [KEY=VALUE ...]
#   MODE: oneshot (await async_https_ota()) | steps (aio.begin, aio.perform until done, aio.finish)
#   cancel_after=N: cancel the OTA task after its N-th perform() step (steps mode), from another task
#   cancel_ms=N: cancel the OTA task N ms after it started (either mode)
#   other KEY=VALUE: config fields, as in ota_run.py (http.KEY for http_config)
# Prints `RESULT {json}`: ok or the error, the longest gap between ticks in the download (begin()
# and perform() steps) and in finish(), the ticks, the read-ahead's blocking reads, the steps,
# and whether a blocking begin() works right after (again; again_resumes: bytes it resumes).
import asyncio
import json
import sys
import time

import esp32
import esp_https_ota as ota
from esp_https_ota import aio
from scenario_args import options

state = {"phase": "download", "gap": {"download": 0, "finish": 0}, "ticks": 0, "steps": 0, "blocked": None,
         "step_ms": 0, "socket_closed": None}


async def ticker():
    last = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(10)
        now = time.ticks_ms()
        gap = time.ticks_diff(now, last)
        phase = state["phase"]
        if gap > state["gap"][phase]:
            state["gap"][phase] = gap
        state["ticks"] += 1
        last = now


async def cancel_at(work, n):
    # Cancel `work` once it has made n perform() steps (it lands in its next await).
    while state["steps"] < n and not work.done():
        await asyncio.sleep_ms(0)
    work.cancel()


async def steps(config):
    h = await aio.begin(config)
    stream = h.client.stream()
    try:
        while True:
            t0 = time.ticks_us()
            err = await aio.perform(h)
            # the step itself (the read-ahead awaited, then the synchronous part: flash writes included)
            state["step_ms"] = max(state["step_ms"], time.ticks_diff(time.ticks_us(), t0) // 1000)
            state["steps"] += 1
            if err != ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
                break
    finally:
        state["blocked"] = stream.blocked
        try:  # closed by the abort that a cancellation is
            stream.write(b"x", 0, 1)
            state["socket_closed"] = False
        except (OSError, ValueError):
            state["socket_closed"] = True
    state["phase"] = "finish"
    await aio.finish(h)


async def main():
    mode, url, ca_path = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = options(sys.argv[4:])
    cancel_after = opts.pop("cancel_after", None)
    cancel_ms = opts.pop("cancel_ms", None)
    http_config = {"url": url}
    if ca_path != "-":
        with open(ca_path) as f:
            http_config["cert_pem"] = f.read()
    for k in [k for k in opts if k.startswith("http.")]:
        http_config[k[5:]] = opts.pop(k)
    config = {"http_config": http_config}
    config.update(opts)
    running = esp32.Partition(esp32.Partition.RUNNING)
    res = {"running": running.info()[4], "next": running.get_next_update().info()[4]}
    tick = asyncio.create_task(ticker())
    work = asyncio.create_task(ota.async_https_ota(config) if mode == "oneshot" else steps(config))
    if cancel_after is not None:
        asyncio.create_task(cancel_at(work, cancel_after))
    try:
        if cancel_ms is not None:
            await asyncio.sleep_ms(cancel_ms)
            work.cancel()
        await work
        res["ok"] = True
    except asyncio.CancelledError:
        res["ok"] = False
        res["cancelled"] = True
    except ota.OTAError as e:
        res.update({"ok": False, "code": e.code, "name": ota.err_to_name(e.code), "msg": str(e)})
    tick.cancel()
    res.update({k: state[k] for k in ("ticks", "steps", "blocked", "step_ms", "socket_closed")})
    res["gap_ms"] = state["gap"]
    try:  # a second OTA must be possible at once (nothing left open); what it would resume
        h = ota.begin(config)
        res["again_resumes"] = ota.get_image_len_read(h)
        ota.abort(h)
        res["again"] = True
    except ota.OTAError as e:
        res["again"] = str(e)
    print("RESULT", json.dumps(res))


asyncio.run(main())
