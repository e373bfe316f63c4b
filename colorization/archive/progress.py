"""Progress of a long run: tqdm's bar (rate and time left) on a terminal, plain lines with
the same figures when the output is a log file or a pipe."""

import sys
import time


class Progress:
    """Counts photos done out of `total`.

    On a terminal (`stream.isatty()`), a tqdm bar; otherwise a line every `every_seconds`
    (and at the end): `colorize: 120/500 photos, 24.1 photos/s, 16 s left`.
    """

    def __init__(self, total, stream=None, every_seconds=10.0, label="colorize"):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.every_seconds = every_seconds
        self.label = label
        self.start = time.perf_counter()
        self._last_line = self.start
        self._bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=self.stream, unit="photo", desc=label)

    def update(self, count=1):
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.every_seconds:
            self._last_line = now
            print(self.line(now), file=self.stream, flush=True)

    def line(self, now=None):
        elapsed = (now or time.perf_counter()) - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        return (
            f"{self.label}: {self.done}/{self.total} photos, {rate:.1f} photos/s, "
            f"{format_seconds(left)} left"
        )

    def write(self, message):
        """A message that does not break the bar (an error about one photo)."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self.total:
            print(self.line(), file=self.stream, flush=True)


def format_seconds(seconds):
    """'42 s', '3 min 05 s', '2 h 04 min'; '?' when unknown."""
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
