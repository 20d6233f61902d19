"""A WAN link in user space: a TCP relay between the two Zenoh bridges that can be cut or capped.

The edge bridge connects to the relay, the relay to the cloud bridge. While the link is cut, no
byte crosses in either direction and new connections wait, as when a radio link drops: TCP
backs off, Zenoh's lease runs, and what was queued arrives late once the link is restored. A
cap passes at most `kbit` kbit/s each way, or only up (edge -> cloud, like `tc tbf` on the edge's
interface), through a token bucket with a 16 kbit burst. Needs no root; with root, network
namespaces and tc do the same (test/ros/netns.py).
"""
from __future__ import annotations

import asyncio
import threading
import time

CHUNK = 16 * 1024
BURST_BITS = 16_000


class LinkShaper:
    """Relays 127.0.0.1:`port` (0: any free port, see .port) to `target` (host, port)."""

    def __init__(self, target: tuple[str, int], port: int = 0):
        self.target = target
        self.sent = {"up": 0, "down": 0}   # bytes relayed edge -> cloud, cloud -> edge
        self._up = threading.Event()
        self._up.set()
        self._kbit: dict[str, float] = {}   # direction -> cap
        self._buckets = {d: [float(BURST_BITS), time.monotonic()] for d in self.sent}  # bits, refilled at
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", port))
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, name="link_shaper", daemon=True)
        self._thread.start()

    # ---- the link's state (any thread) -------------------------------------------------------
    def cut(self) -> None:
        self._up.clear()

    def restore(self) -> None:
        self._up.set()

    def cap(self, kbit: float | None, directions: tuple[str, ...] = ("up", "down")) -> None:
        """Limit `directions` ("up": edge -> cloud, "down") to `kbit` kbit/s; None lifts the cap."""
        if kbit is not None and kbit <= 0:
            raise ValueError(f"a cap must be > 0 kbit/s, got {kbit}")
        if set(directions) - set(self.sent) or not directions:
            raise ValueError(f"directions must be some of {', '.join(self.sent)}, got {directions}")
        self._kbit = {d: kbit for d in directions} if kbit is not None else {}

    @property
    def state(self) -> str:
        if not self._up.is_set():
            return "cut"
        if not self._kbit:
            return "up"
        return ", ".join(f"{kbit:g} kbit/s {d}" for d, kbit in self._kbit.items())

    def close(self) -> None:
        """Stop relaying and close every connection."""
        self._up.set()
        asyncio.run_coroutine_threadsafe(self._shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shut(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- relaying (the loop's thread) ----------------------------------------------------------
    async def _wait_up(self) -> None:
        while not self._up.is_set():
            await asyncio.sleep(0.02)

    async def _pace(self, direction: str, nbytes: int) -> None:
        """While capped, wait until `direction`'s token bucket is not in debt, then take `nbytes`
        from it (a chunk may overdraw it: the rate holds on average, the burst stays small)."""
        bucket = self._buckets[direction]
        while (kbit := self._kbit.get(direction)) is not None:
            now, rate = time.monotonic(), kbit * 1000.0
            bucket[0], bucket[1] = min(BURST_BITS, bucket[0] + (now - bucket[1]) * rate), now
            if bucket[0] >= 0:
                bucket[0] -= nbytes * 8
                return
            await asyncio.sleep(-bucket[0] / rate)

    async def _accept(self, edge_reader, edge_writer) -> None:
        await self._wait_up()
        try:
            cloud_reader, cloud_writer = await asyncio.open_connection(*self.target)
        except OSError:
            edge_writer.close()
            return
        await asyncio.gather(self._pump(edge_reader, cloud_writer, "up"),
                             self._pump(cloud_reader, edge_writer, "down"), return_exceptions=True)

    async def _pump(self, reader, writer, direction: str) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self._wait_up()
                await self._pace(direction, len(data))
                await self._wait_up()
                self.sent[direction] += len(data)   # counted as it leaves, before the far end can see it
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
