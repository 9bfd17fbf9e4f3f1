#!/usr/bin/python3
"""RTSP server for the demo and the tests: serves H.264 mp4 files over RTSP without re-encoding.

Run with Debian's /usr/bin/python3 (needs python3-gi and gir1.2-gst-rtsp-server-1.0):

    /usr/bin/python3 scripts/rtsp-server.py --port 8554 --mount cam1=/path/a.mp4 --mount cam2=/path/b.mp4

Serves rtsp://127.0.0.1:PORT/<mount>. Every client gets its own pipeline (shared=False), so each
connection starts from the beginning of the file. RTP over TCP (interleaved) and over UDP are both
allowed. Prints on stdout, one line each:
  READY <port>     once listening (port 0 picks a free port and prints it)
  EOS <mount>      when a client's stream of <mount> has sent its last frame (the file ended)
Exits 0 on SIGTERM or SIGINT, and with --exit-with-stdin when its stdin closes (the parent that holds the
other end of the pipe has exited, even if it was killed without a chance to stop this server).
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def launch_quote(value: str) -> str:
    """Quote a property value for gst_parse_launch (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_mount(spec: str) -> tuple[str, str]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--mount expects NAME=FILE, got {spec!r}")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"mount name must be [A-Za-z0-9_-], got {name!r}")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"mount file does not exist: {path}")
    return name, os.path.abspath(path)


def report_eos(_factory, media, name: str) -> None:
    """Prints "EOS <name>" when this client's payloader passes end-of-stream (the file has been sent)."""
    pay = media.get_element().get_by_name("pay0")
    if pay is None:
        return

    def probe(_pad, info):
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.EOS:
            print(f"EOS {name}", flush=True)
        return Gst.PadProbeReturn.OK

    pay.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, probe)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port for RTSP (0 = any free port)")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--mount", type=parse_mount, action="append", required=True, metavar="NAME=FILE")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin reaches end of file")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for name, path in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        # No re-encoding: demux the mp4 and packetise its H.264 as is. config-interval=-1 repeats
        # SPS/PPS with every IDR so a client joining (or re-joining) can decode at once.
        factory.set_launch(
            f"( filesrc location={launch_quote(path)} ! qtdemux name=d d.video_0 ! queue ! h264parse "
            f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
        factory.connect("media-configure", report_eos, name)
        mounts.add_factory(f"/{name}", factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1

    def on_signal() -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, on_signal)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, on_signal)

    if args.exit_with_stdin:
        def on_stdin(fd: int, _condition) -> bool:
            if os.read(fd, 4096):
                return GLib.SOURCE_CONTINUE
            loop.quit()
            return GLib.SOURCE_REMOVE

        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(), GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)

    # Clients whose connection went away (e.g. killed ffmpeg) are cleaned up periodically.
    pool = server.get_session_pool()
    GLib.timeout_add_seconds(2, lambda: (pool.cleanup(), True)[1])

    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
