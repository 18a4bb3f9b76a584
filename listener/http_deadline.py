"""A deadline for a whole answer from the synchronous clients (tweepy and praw, both
on requests). requests' timeout bounds each read of the socket, so a server or proxy
that trickles a byte at a time would hold a worker thread for as long as it liked;
here the body must have arrived by the deadline, or the socket is shut down and the
request is a ReadTimeout (which the clients already handle as one). Its size is
bounded too, as the aiohttp sources' is (listener/http_errors.py): past MAX_ANSWER
the read stops with AnswerTooLarge.

May import: requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests

# No page of posts comes near this; a bigger answer is a broken proxy or server, and
# reading it whole would only fill the daemon's memory.
MAX_ANSWER = 10 * 2**20


class AnswerTooLarge(requests.RequestException):
    """The answer went past MAX_ANSWER bytes; the rest was not read."""


class DeadlineSession(requests.Session):
    """A requests session whose numeric `timeout` bounds the whole answer."""

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        # no timeout or a (connect, read) pair: requests' own; a caller that streams
        # reads the body itself
        streamed = bool(kwargs.get("stream"))
        if streamed or isinstance(timeout, bool) or not isinstance(timeout, int | float):
            return super().request(method, url, *args, **kwargs)
        deadline = time.monotonic() + timeout
        response = super().request(method, url, *args, **{**kwargs, "stream": True})
        read_by(response, deadline)
        return response


def read_by(response: requests.Response, deadline: float) -> None:
    """Read the whole body by `deadline` (time.monotonic()); past it, the socket is
    shut down, which ends the read in progress, and ReadTimeout is raised."""

    def cut() -> None:
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_ANSWER:
                response.close()
                raise AnswerTooLarge(f"answer is larger than {MAX_ANSWER // 2**20} MB")
            chunks.append(chunk)
        # what `response.content` keeps once it has read the body itself
        response._content = b"".join(chunks)
    except AnswerTooLarge:
        raise
    except requests.RequestException:
        if time.monotonic() >= deadline:
            raise requests.ReadTimeout("the whole answer did not arrive in time") from None
        raise
    finally:
        timer.cancel()
