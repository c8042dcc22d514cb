"""Settings from the environment: production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "CHAT_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "chatsite.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key_and_hosts():
    result = manage("check", DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS must be set" in result.stderr
    result = manage("check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 60)
    assert result.returncode != 0 and "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


def test_production_settings_pass_the_deploy_checklist():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="k" * 64 + "-production-grade-secret-key-with-variety-1234567890",
        DJANGO_ALLOWED_HOSTS="chat.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_store_backend_is_a_clear_error():
    result = manage("check", DJANGO_DEBUG="1", CHAT_STORE="cassandra")
    assert result.returncode != 0 and "CHAT_STORE must be one of" in result.stderr


def test_upload_types_a_browser_would_run_are_refused_at_start():
    types = "image/png,text/html,image/svg+xml"
    result = manage("check", DJANGO_DEBUG="1", CHAT_UPLOAD_TYPES=types)
    assert result.returncode != 0
    assert "CHAT_UPLOAD_TYPES may not name" in result.stderr
    assert "text/html, image/svg+xml" in result.stderr


def test_media_on_a_cdn_needs_its_signing_key():
    media = {"CHAT_MEDIA": "s3", "CHAT_MEDIA_BUCKET": "b", "CHAT_CDN_DOMAIN": "cdn.example.com"}
    result = manage("check", DJANGO_DEBUG="1", **media)
    assert result.returncode != 0 and "CHAT_CDN_KEY_ID and CHAT_CDN_PRIVATE_KEY" in result.stderr


def test_embedded_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    script = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    print(cursor.fetchone()[0], connection.transaction_mode)\n"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        script,
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "IMMEDIATE"]


def test_redis_url_selects_redis_fan_out_with_a_blocking_pool():
    script = (
        "from django.conf import settings\n"
        "print(settings.CHAT_FANOUT_BACKEND, settings.CHAT_REDIS_POOL, settings.CHANNEL_LAYERS)\n"
    )
    env = {"DJANGO_DEBUG": "1"}
    result = manage("shell", "--no-imports", "-c", script, **env)
    assert result.stdout.split() == ["chat.realtime.fanout.LocalFanout", "32", "{}"], result.stderr
    result = manage("shell", "--no-imports", "-c", script, REDIS_URL="redis://127.0.0.1:1/0", **env)
    assert result.stdout.split()[0] == "chat.realtime.fanout.RedisFanout"
