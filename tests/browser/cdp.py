"""A minimal Chrome DevTools Protocol client on the standard library (no extra packages).

Why not Selenium or Playwright: the browser test must run on a fresh machine with only Debian's
`chromium`; CDP over one WebSocket is enough to open a page, wait for Streamlit to finish
rendering, inspect the DOM and take a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


class _WebSocket:
    """Just enough of RFC 6455 for CDP: masked text frames out, (fragmented) text frames in."""

    def __init__(self, url: str) -> None:
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"websocket handshake failed: {head[:200]!r}")

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return buf

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b1, b2 = self._exact(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = b1 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping / pong: ignore
                continue
            parts.append(payload)
            if b1 & 0x80:
                return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """Headless Debian chromium with one page, driven over CDP."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise RuntimeError("chromium not found: run scripts/ensure-browser.sh")
        self.profile = tempfile.mkdtemp(prefix="xn-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = _WebSocket(page["webSocketDebuggerUrl"])
        self._id = 0
        self.width, self.height = width, height
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def wait_rendered(self, timeout: float = 60.0, settle: float = 1.5) -> None:
        """Until Streamlit shows a page title and has stopped running for `settle` seconds."""
        script = """(() => {
          const running = document.querySelector('[data-testid="stStatusWidget"]');
          const title = document.querySelector('[data-testid="stMain"] h1');
          const skeleton = document.querySelector('[data-testid="stAppSkeleton"]');
          return Boolean(title) && !running && !skeleton;
        })()"""
        deadline = time.time() + timeout
        quiet_since: float | None = None
        while time.time() < deadline:
            if self.evaluate(script):
                quiet_since = quiet_since or time.time()
                if time.time() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.25)
        raise TimeoutError("the page did not finish rendering")

    def wait_charts(self, timeout: float = 15.0) -> None:
        """Until every Plotly chart has drawn its SVG (they draw lazily, once on screen)."""
        script = """(() => {
          const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
          return Array.from(charts).every(c => c.querySelector('.main-svg'));
        })()"""
        deadline = time.time() + timeout
        while time.time() < deadline and not self.evaluate(script):
            time.sleep(0.25)
        time.sleep(2.0)  # let the last chart finish its transition and tables draw

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        if full_page:
            # Streamlit scrolls inside stMain, not the body; wait until its height settles
            measure = """(() => { const m = document.querySelector('[data-testid="stMain"]');
                                  return m ? m.scrollHeight : document.body.scrollHeight; })()"""
            h, last, deadline = 0, -1, time.time() + 10
            while h != last and time.time() < deadline:
                last, h = h, int(self.evaluate(measure) or self.height)
                time.sleep(0.5)
            self.call("Emulation.setDeviceMetricsOverride", width=self.width,
                      height=min(int(h) + 40, 12000), deviceScaleFactor=1, mobile=False)
            self.wait_charts()
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
