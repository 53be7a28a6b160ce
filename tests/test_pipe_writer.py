"""The window's pipe writer: a message bigger than the pipe's buffer never holds the caller.

The oracle is the pipe itself: with nobody reading, a plain ``send_bytes`` of more than the
pipe's buffer would block for good (the test would hang; pytest-timeout ends it); through the
writer every call returns, and the reader then gets every message, whole and in order.
"""

from __future__ import annotations

import multiprocessing
import threading

from playground.worker import _PipeWriter

BIG = 1 << 20  # 1 MB: well over a pipe's buffer (64 kB on Linux)


def test_sends_return_while_nobody_reads_and_arrive_whole_in_order() -> None:
    here, there = multiprocessing.Pipe(duplex=True)
    writer = _PipeWriter(here)
    messages = [bytes([k]) * (BIG + k) for k in range(3)]
    for message in messages:
        writer.send(message)  # returns although nothing reads yet
    assert [there.recv_bytes() for _ in messages] == messages
    writer.close(timeout=5.0)
    here.close(), there.close()


def test_close_writes_what_is_queued_first() -> None:
    here, there = multiprocessing.Pipe(duplex=True)
    writer = _PipeWriter(here)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(there.recv_bytes() for _ in "ab"))
    writer.send(b"a" * BIG)
    writer.send(b"quit")
    reader.start()
    writer.close(timeout=5.0)  # as shutdown does: the Quit goes out before the pipe closes
    reader.join(5.0)
    assert received == [b"a" * BIG, b"quit"]
    here.close(), there.close()


def test_a_closed_pipe_is_not_an_error_of_the_writer() -> None:
    here, there = multiprocessing.Pipe(duplex=True)
    writer = _PipeWriter(here)
    there.close()  # the worker is gone: its end of the pipe closed
    writer.send(b"x" * BIG)
    writer.close(timeout=5.0)
    assert not writer._thread.is_alive()
    here.close()
