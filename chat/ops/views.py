"""Operations endpoints: liveness (``/health/``), readiness (``/ready/``) and metrics
(``/metrics``)."""

import ipaddress
import os
import resource
import time

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from chat.ops.metrics import exposition
from chat.stores import get_store

# The chat the store check reads (a key no chat has: a cheap read that touches the store).
PROBE_CHAT = "00000000-0000-0000-0000-000000000000"
REDIS_TIMEOUT = 1.0
_redis_client = None


@require_GET
def health(request):
    """Liveness, for the load balancer: the process answers and its database is reachable."""
    connection.ensure_connection()
    return HttpResponse("ok", content_type="text/plain")


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    return _redis_client


def _check_redis():
    _redis().ping()


def _check_store():
    get_store().last_seq(PROBE_CHAT)


def _checks() -> dict:
    checks = {"database": _check_database, "store": _check_store}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    return checks


@require_GET
def ready(request):
    """Readiness: the database, Redis (when configured) and the message store each answer,
    with how long each took. 503 when any does not, naming it. For operators (staff, or on the
    host), like ``metrics``: each call touches every dependency."""
    if not metrics_allowed(request):
        raise PermissionDenied("Readiness is for staff and the monitoring network.")
    report, ready_ = {}, True
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            ready_ = False
            report[name] = {"ok": False, "error": type(exc).__name__}
        else:
            report[name] = {"ok": True}
        report[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse(
        {"ready": ready_, "checks": report, "process": _process()}, status=200 if ready_ else 503
    )


def _process() -> dict:
    """This process's open files against its limit: each socket is one (the deployed service
    raises the limit; .platform/hooks/predeploy/02_open_files.sh)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = None
    return {"pid": os.getpid(), "open_files": in_use, "open_files_limit": soft,
            "open_files_hard_limit": hard}  # fmt: skip


def _networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.CHAT_METRICS_NETWORKS]


def metrics_allowed(request) -> bool:
    """Staff, or a scraper inside the allowed networks that did not come through the load
    balancer (a request through it carries X-Forwarded-For)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    if request.META.get("HTTP_X_FORWARDED_FOR"):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


@require_GET
def metrics(request):
    """Prometheus metrics of every worker process of this instance."""
    if not metrics_allowed(request):
        raise PermissionDenied("Metrics are for staff and the monitoring network.")
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
