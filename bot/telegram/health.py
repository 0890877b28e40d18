"""The bot's metrics endpoint (``metrics.listen``): started first in post_init, closed in
post_shutdown, and the bot's part of ``/healthz``.

The check runs in the endpoint's thread, never on the event loop, and reads only what is
safe to read from there: whether the application runs, and when the digest tick is next due.
A tick long overdue means the event loop is blocked (or the scheduler stopped): every
digest, reply and delivery waits behind it, so the bot is unhealthy even if it still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.config import Settings
from bot.telegram.schedule import tick_interval
from bot.telegram.services import SERVICES_KEY, NashraApp

SERVER_KEY = "nashra-metrics"
TICK_JOB = "digests"
# How late the digest tick may be before the bot is called unhealthy (beyond one interval).
LATE_TICK = timedelta(seconds=60)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now   # tests move time forward instead of waiting


def start(app: NashraApp, settings: Settings) -> None:
    """Serve /metrics and /healthz when ``metrics.listen`` is set; MetricsError (one line)
    when the address cannot be used, before anything else is opened."""
    if not settings.metrics.listen:
        return
    app.bot_data[SERVER_KEY] = metrics.serve(settings.metrics.listen, settings.database,
                                             lambda: bot_problem(app))


def stop(app: NashraApp) -> None:
    server: metrics.MetricsServer | None = app.bot_data.pop(SERVER_KEY, None)
    if server is not None:
        server.close()


def bot_problem(app: NashraApp) -> str | None:
    """Why the bot is not working, in one line; None when it is."""
    svc = app.bot_data.get(SERVICES_KEY)
    if svc is None or not app.running:
        return "bot: not running"
    if svc.stopping:
        return "bot: stopping"
    queue = app.job_queue
    jobs = queue.get_jobs_by_name(TICK_JOB) if queue is not None else ()
    due = jobs[0].next_t if jobs else None
    if due is None:
        return "bot: the digest tick is not scheduled"
    late = clock() - due
    if late > tick_interval() + LATE_TICK:
        return (f"bot: the digest tick is {late.total_seconds():.0f}s late "
                "(the event loop is blocked)")
    return None
