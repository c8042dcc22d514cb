"""Files in chats: upload URLs (local and S3 on moto_server), checks when a message attaches a
file, and who may fetch it."""

import base64
import datetime
import io
import json
import time
import uuid

import boto3
import httpx
import pytest
from channels.db import database_sync_to_async
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client
from django.utils import timezone
from PIL import Image

from chat.media import thumbnails
from chat.models import Membership, Upload
from tests.clients import api_as
from tests.files import png, upload_url
from tests.frames import send_message
from tests.sockets import joined_socket, send

pytestmark = pytest.mark.django_db(transaction=True)

MAX = 64 * 1024  # CHAT_UPLOAD_MAX_BYTES in these tests


@pytest.fixture(autouse=True)
def local_media(settings, tmp_path):
    settings.CHAT_UPLOAD_MAX_BYTES = MAX
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    return tmp_path / "media"


def upload_locally(user, ticket: dict, data: bytes, name="photo.png"):
    """POST the form as a browser does: the fields, then the file."""
    client = Client()
    client.force_login(user)
    form = {**ticket["fields"], "file": _named(data, name)}
    return client.post(ticket["url"], form)


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def uploaded(user, chat_id, data: bytes, *, name="photo.png", content_type="image/png") -> str:
    ticket = upload_url(user, chat_id, name, content_type, data=data)
    assert ticket.status_code == 201, ticket.content
    response = upload_locally(user, ticket.json(), data, name)
    assert response.status_code == 204, response.content
    return ticket.json()["attachmentId"]


@pytest.fixture
def alice_bob_pics_and_carol(make_user, make_chat):
    """alice, bob, carol and the group "pics" of alice and bob (carol is not in it)."""
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    return alice, bob, carol, make_chat(alice, bob, name="pics")


# -- Asking for an upload URL ----------------------------------------------------------------------


def test_a_member_gets_a_signed_local_upload(alice_bob_pics_and_carol):
    alice, _, _, chat = alice_bob_pics_and_carol
    response = upload_url(alice, str(chat.pk), size=1000)
    assert response.status_code == 201
    ticket = response.json()
    assert ticket["url"] == f"/uploads/{ticket['attachmentId']}/"
    assert set(ticket["fields"]) == {"token", "Content-Type"}
    assert ticket["fields"]["Content-Type"] == "image/png" and ticket["maxBytes"] == MAX
    expires = datetime.datetime.fromisoformat(ticket["expiresAt"])
    assert timezone.now() < expires <= timezone.now() + datetime.timedelta(seconds=300)


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "code"),
    [
        ("photo.png", "text/html", 100, "type_not_allowed"),
        ("photo.png", "image/svg+xml", 100, "type_not_allowed"),
        ("photo.png", "image/png", MAX + 1, "too_big"),
        ("../../etc/passwd", "text/plain", 100, "invalid_filename"),
        ("a\\b.txt", "text/plain", 100, "invalid_filename"),
        ("nul\x00.txt", "text/plain", 100, "invalid"),  # NUL: refused in any API text field
        ("x" * 300 + ".txt", "text/plain", 100, "invalid_filename"),
        ("invoice\u202egnp.exe", "image/png", 100, "invalid_filename"),
        ("  ", "text/plain", 100, "invalid_filename"),
    ],
)
def test_upload_urls_are_refused_clearly(
    alice_bob_pics_and_carol, filename, content_type, size, code
):
    alice, _, _, chat = alice_bob_pics_and_carol
    response = upload_url(alice, str(chat.pk), filename, content_type, size)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Upload.objects.exists()


def test_only_members_get_upload_urls(alice_bob_pics_and_carol):
    _, _, carol, chat = alice_bob_pics_and_carol
    assert upload_url(carol, str(chat.pk), size=10).status_code == 403
    assert upload_url(carol, str(uuid.uuid4()), size=10).status_code == 404
    assert not Upload.objects.exists()


# -- The local upload endpoint -----------------------------------------------------------------


def test_the_local_upload_checks_token_type_and_size(alice_bob_pics_and_carol, local_media):
    alice, bob, _, chat = alice_bob_pics_and_carol
    ticket = upload_url(alice, str(chat.pk), data=png()).json()
    # Another user with the ticket, a forged token, a changed Content-Type: all refused.
    assert upload_locally(bob, ticket, png()).status_code == 400
    forged = {**ticket, "fields": {**ticket["fields"], "token": ticket["fields"]["token"] + "x"}}
    assert upload_locally(alice, forged, png()).json()["code"] == "upload_expired"
    html = {**ticket, "fields": {**ticket["fields"], "Content-Type": "text/html"}}
    assert upload_locally(alice, html, png()).json()["code"] == "type_mismatch"
    big = upload_locally(alice, ticket, b"x" * (MAX + 1))
    assert (big.status_code, big.json()["code"]) == (413, "too_big")
    assert not list(local_media.rglob("*.png"))
    # A body announced as larger than any upload is refused before it is read.
    client = Client()
    client.force_login(alice)
    huge = client.generic(
        "POST", ticket["url"], b"", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
    )  # fmt: skip
    assert huge.status_code == 413
    assert upload_locally(alice, ticket, png()).status_code == 204


# -- Attaching: checks, then the message everywhere ---------------------------------------------


async def test_an_image_is_attached_sent_live_and_kept_in_history(
    alice_bob_pics_and_carol, either_store
):
    alice, bob, carol, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    attachment = await database_sync_to_async(uploaded)(alice, chat_id, png(640, 480))
    frame = send_message(chat_id, "", "with-photo")
    ack = await send(a, {**frame, "attachments": [attachment]})
    assert ack["type"] == "ack", ack
    for socket in (a, b):
        message = json.loads(await socket.receive_from(timeout=5))["message"]
        (described,) = message["attachments"]
        assert described == {
            "id": attachment, "name": "photo.png", "contentType": "image/png",
            "size": len(png(640, 480)), "url": f"/media/{chat_id}/{attachment}/",
            "thumbnailUrl": f"/media/{chat_id}/{attachment}/thumbnail/",
            "width": 640, "height": 480,
        }  # fmt: skip
    history = await database_sync_to_async(
        lambda: api_as(bob).get(f"/api/chats/{chat_id}/messages").json()
    )()
    assert history["messages"][0]["attachments"] == [described]
    # A retried send is the same message with the same file; using the file again is not.
    again = await send(a, {**frame, "attachments": [attachment]})
    assert (again["duplicate"], again["seq"]) == (True, ack["seq"])
    reused = await send(a, {**send_message(chat_id, "again", "other"), "attachments": [attachment]})
    assert reused["code"] == "attachment_used"

    def fetch(user, url):
        client = Client()
        client.force_login(user)
        return client.get(url)

    full = await database_sync_to_async(fetch)(bob, described["url"])
    assert full.status_code == 200 and full["Content-Type"] == "image/png"
    assert b"".join(full.streaming_content) == png(640, 480)
    thumb = await database_sync_to_async(fetch)(bob, described["thumbnailUrl"])
    with Image.open(io.BytesIO(b"".join(thumb.streaming_content))) as image:
        assert max(image.size) <= 480 and image.format == "JPEG"
    for url in (described["url"], described["thumbnailUrl"]):
        assert (await database_sync_to_async(fetch)(carol, url)).status_code == 404
    for socket in (a, b):
        await socket.disconnect()


def test_a_file_that_is_not_what_it_says_is_refused_and_nothing_is_stored(
    alice_bob_pics_and_carol, local_media
):
    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    fake = b"<html><script>alert(1)</script></html>"
    attachment = uploaded(alice, chat_id, fake)  # declared image/png
    response = api_as(alice).post(
        f"/api/chats/{chat_id}/messages",
        {"message": "look", "attachments": [attachment]}, format="json",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "type_mismatch")
    assert api_as(bob).get(f"/api/chats/{chat_id}/messages").json()["messages"] == []
    assert not [p for p in local_media.rglob("*") if p.is_file()]  # the upload is deleted
    text = uploaded(
        alice, chat_id, "notes: ünïcode\n".encode(), name="a.txt", content_type="text/plain"
    )
    sent = api_as(alice).post(
        f"/api/chats/{chat_id}/messages", {"message": "", "attachments": [text]}, format="json"
    )
    assert sent.status_code == 201, sent.content
    (described,) = sent.json()["attachments"]
    assert "thumbnailUrl" not in described and described["contentType"] == "text/plain"
    client = Client()
    client.force_login(bob)
    download = client.get(described["url"])
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_attachments_of_others_unknown_expired_or_missing_are_refused(
    alice_bob_pics_and_carol, make_chat
):
    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    other_chat = str(make_chat(alice, bob, name="other").pk)

    def send_with(user, attachment, cid=chat_id):
        response = api_as(user).post(
            f"/api/chats/{cid}/messages",
            {"message": "x", "attachments": [attachment]}, format="json",
        )  # fmt: skip
        return response.status_code, response.json().get("code")

    bobs = uploaded(bob, chat_id, png())
    assert send_with(alice, bobs) == (400, "invalid_attachment")  # another user's upload
    assert send_with(bob, bobs, other_chat) == (400, "invalid_attachment")  # another chat's
    assert send_with(alice, str(uuid.uuid4())) == (400, "invalid_attachment")
    assert send_with(alice, "not-an-id") == (400, "invalid_attachment")
    never = upload_url(alice, chat_id, size=100).json()["attachmentId"]
    assert send_with(alice, never) == (400, "not_uploaded")
    late = uploaded(alice, chat_id, png())
    Upload.objects.filter(pk=late).update(expires_at=timezone.now() - datetime.timedelta(hours=1))
    assert send_with(alice, late) == (400, "upload_expired")
    assert api_as(alice).get(f"/api/chats/{chat_id}/messages").json()["messages"] == []
    assert send_with(bob, bobs) == (201, None)


def test_expired_uploads_are_purged(alice_bob_pics_and_carol, local_media):
    from django.core.management import call_command

    alice, _, _, chat = alice_bob_pics_and_carol
    stale = uploaded(alice, str(chat.pk), png())
    fresh = uploaded(alice, str(chat.pk), png())
    Upload.objects.filter(pk=stale).update(expires_at=timezone.now() - datetime.timedelta(days=2))
    call_command("purge_uploads")
    assert list(Upload.objects.values_list("pk", flat=True)) == [uuid.UUID(fresh)]
    assert [p.parent.name for p in local_media.rglob("*.png")] == [fresh]


def test_server_processes_sweep_unattached_uploads_and_missing_previews(
    alice_bob_pics_and_carol, local_media
):
    import time

    from chat.media.sweeper import Sweeper

    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    stale = uploaded(alice, chat_id, png())
    Upload.objects.filter(pk=stale).update(expires_at=timezone.now() - datetime.timedelta(days=2))
    picture = _send(alice, chat_id, uploaded(alice, chat_id, png(900, 600)))
    thumbnails.worker.wait_idle()
    (described,) = picture.json()["attachments"]
    attached = Upload.objects.get(pk=described["id"])
    (local_media / attached.thumbnail_key).unlink()  # its job lost with a stopped process
    Upload.objects.filter(pk=attached.pk).update(
        thumbnail_ready=False, created_at=timezone.now() - datetime.timedelta(hours=1)
    )
    sweeper = Sweeper(0.05).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            Upload.objects.filter(pk=stale).exists()
            or Upload.objects.filter(thumbnail_ready=False).exists()
        ):
            time.sleep(0.05)
    finally:
        sweeper.stopped.set()
    assert not Upload.objects.filter(pk=stale).exists()
    assert not [p for p in local_media.rglob("*") if p.is_file() and stale in str(p)]
    assert (local_media / attached.thumbnail_key).exists()


@pytest.mark.parametrize(("seconds", "started"), [("60", "True"), ("0", "False")])
def test_the_asgi_application_starts_the_sweeper_unless_switched_off(seconds, started):
    import subprocess
    import sys

    from tests.servers import ROOT, server_env

    env = server_env("sqlite:///:memory:", CHAT_UPLOAD_SWEEP_SECONDS=seconds)
    code = "import chatsite.asgi; from chat.media import sweeper; print(bool(sweeper._started))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == started, done.stderr


# -- S3 (moto_server): the presigned POST and its policy ----------------------------------------


# The stage's CloudFront key pair: the distribution trusts the public key (its key group).
CDN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CDN_KEY_ID = "K2JCJMDEHXQW5F"


def cdn_target(user, url: str) -> str:
    """Fetch a member's media URL as ``user``: a redirect to a CDN URL signed with the stage's
    key (checked here as CloudFront checks it: moto has no CloudFront), valid 10 to 15 minutes;
    the stored key it names."""
    client = Client()
    client.force_login(user)
    answer = client.get(url)
    assert answer.status_code == 302, answer.status_code
    assert answer["Cache-Control"] == "private, max-age=300"
    location = answer["Location"]
    resource, _, query = location.partition("?")
    fields = dict(
        alice_bob_pics_and_carol.split("=", 1) for alice_bob_pics_and_carol in query.split("&")
    )
    assert fields["Key-Pair-Id"] == CDN_KEY_ID
    expires = int(fields["Expires"])
    assert time.time() + 600 - 5 <= expires <= time.time() + 900
    policy = json.dumps(
        {"Statement": [{"Resource": resource,
                        "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]},
        separators=(",", ":"),
    )  # fmt: skip
    signature = fields["Signature"].translate(str.maketrans("-_~", "+=/"))
    CDN_KEY.public_key().verify(
        base64.b64decode(signature), policy.encode(), padding.PKCS1v15(), hashes.SHA1()
    )
    assert resource.startswith("https://cdn.example.test/media/")
    return resource.removeprefix("https://cdn.example.test/")


@pytest.fixture
def s3_media(settings, moto_server):
    bucket = f"media-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    settings.CHAT_MEDIA = "s3"
    settings.CHAT_MEDIA_BUCKET = bucket
    settings.CHAT_CDN_DOMAIN = "cdn.example.test"
    settings.CHAT_CDN_KEY_ID = CDN_KEY_ID
    settings.CHAT_CDN_PRIVATE_KEY = CDN_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket, "endpoint_url": moto_server.url,
                "region_name": "us-east-1", "default_acl": None, "querystring_auth": False,
            },
        },
    }  # fmt: skip
    return boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1"), bucket


def test_the_presigned_post_policy_allows_exactly_this_file(alice_bob_pics_and_carol, s3_media):
    _, bucket = s3_media
    alice, _, _, chat = alice_bob_pics_and_carol
    before = timezone.now()
    ticket = upload_url(alice, str(chat.pk), "My photo.png", "image/png", 1234).json()
    fields = ticket["fields"]
    key = f"uploads/{chat.pk}/{ticket['attachmentId']}/My_photo.png"
    assert fields["key"] == key and fields["Content-Type"] == "image/png"
    # moto does not enforce a POST policy (S3 does): the policy itself is what is checked.
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before < expiration <= before + datetime.timedelta(seconds=301)
    conditions = policy["conditions"]
    assert {"bucket": bucket} in conditions
    assert {"key": key} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, MAX] in conditions
    # Nothing else lets the browser choose: no starts-with, no extra fields.
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]


def test_an_upload_to_s3_is_attached_and_served_from_the_cdn(alice_bob_pics_and_carol, s3_media):
    client, bucket = s3_media
    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    ticket = upload_url(alice, chat_id, data=png()).json()
    posted = httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("p.png", png())})
    assert posted.status_code == 204, posted.text
    sent = api_as(alice).post(
        f"/api/chats/{chat_id}/messages",
        {"message": "s3", "attachments": [ticket["attachmentId"]]}, format="json",
    )  # fmt: skip
    assert sent.status_code == 201, sent.content
    (described,) = sent.json()["attachments"]
    thumbnails.worker.wait_idle()  # the preview is made after the send
    key = f"media/{chat_id}/{ticket['attachmentId']}/photo.png"
    assert described["url"] == f"/media/{chat_id}/{ticket['attachmentId']}/"
    assert cdn_target(bob, described["url"]) == key
    thumbnail = key.rsplit("/", 1)[0] + "/.preview.jpg"
    assert cdn_target(bob, described["thumbnailUrl"]) == thumbnail
    stored = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in stored) == sorted([key, thumbnail])
    # A member removed from the chat gets no new URL (the same answer as for no such file).
    client = Client()
    client.force_login(bob)
    Membership.objects.filter(chat=chat, user=bob).delete()
    for url in (described["url"], described["thumbnailUrl"]):
        assert client.get(url).status_code == 404


def _sent_to_s3(user, chat_id, data, *, name, content_type):
    ticket = upload_url(user, chat_id, name, content_type, data=data).json()
    posted = httpx.post(ticket["url"], data=ticket["fields"], files={"file": (name, data)})
    assert posted.status_code == 204, posted.text
    sent = api_as(user).post(
        f"/api/chats/{chat_id}/messages",
        {"message": name, "attachments": [ticket["attachmentId"]]}, format="json",
    )  # fmt: skip
    assert sent.status_code == 201, sent.content
    (described,) = sent.json()["attachments"]
    return described


def test_s3_objects_carry_the_checked_type_never_one_guessed_from_the_name(
    alice_bob_pics_and_carol, s3_media
):
    client, bucket = s3_media
    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    # A polyglot: a real PNG with a page after its end, named as a page.
    polyglot = png() + b"<html><script>alert(document.domain)</script></html>"
    cases = [
        ("invoice.html", "text/plain", b"<html><script>alert(1)</script></html>"),
        ("lib.js", "text/plain", b"alert(document.cookie)"),
        ("pic.svg", "text/plain", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("photo.html", "image/png", polyglot),
    ]
    for name, content_type, data in cases:
        described = _sent_to_s3(alice, chat_id, data, name=name, content_type=content_type)
        key = cdn_target(alice, described["url"])
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == content_type, name
        if content_type == "image/png":
            assert head["ContentDisposition"] == f'inline; filename="{name}"'
            thumbnails.worker.wait_idle()
            thumbnail = cdn_target(alice, described["thumbnailUrl"])
            assert client.head_object(Bucket=bucket, Key=thumbnail)["ContentType"] == "image/jpeg"
        else:
            assert head["ContentDisposition"] == f'attachment; filename="{name}"'


def test_files_stored_with_guessed_types_are_retyped_from_their_rows(
    alice_bob_pics_and_carol, s3_media
):
    from django.core.management import call_command

    client, bucket = s3_media
    alice, _, _, chat = alice_bob_pics_and_carol
    described = _sent_to_s3(
        alice, str(chat.pk), b"alert(1)", name="lib.js", content_type="text/plain"
    )
    key = cdn_target(alice, described["url"])
    # As the storage stored it before: typed from the name.
    client.copy_object(
        Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE", ContentType="text/javascript",
    )  # fmt: skip
    out = io.StringIO()
    call_command("media_retype", stdout=out)
    assert "1 files retyped" in out.getvalue()
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/plain"
    assert head["ContentDisposition"] == 'attachment; filename="lib.js"'
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"alert(1)"


def test_file_names_outside_ascii_are_encoded_in_the_object_s_disposition(
    alice_bob_pics_and_carol, s3_media
):
    client, bucket = s3_media
    alice, _, _, chat = alice_bob_pics_and_carol
    described = _sent_to_s3(
        alice, str(chat.pk), "ünï".encode(), name="Grüße.txt", content_type="text/plain"
    )
    key = cdn_target(alice, described["url"])
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentDisposition"] == "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe.txt"


def test_without_a_cdn_members_get_presigned_urls_valid_15_minutes(
    alice_bob_pics_and_carol, s3_media, settings
):
    settings.CHAT_CDN_DOMAIN = ""
    alice, bob, _, chat = alice_bob_pics_and_carol
    described = _sent_to_s3(
        alice, str(chat.pk), b"notes", name="notes.txt", content_type="text/plain"
    )
    client = Client()
    client.force_login(bob)
    answer = client.get(described["url"])
    assert answer.status_code == 302
    location = answer["Location"]
    fields = dict(
        alice_bob_pics_and_carol.split("=", 1)
        for alice_bob_pics_and_carol in location.partition("?")[2].split("&")
    )
    if "X-Amz-Expires" in fields:  # signature version 4
        assert fields["X-Amz-Expires"] == "900"
    else:
        assert time.time() + 890 <= int(fields["Expires"]) <= time.time() + 900
    fetched = httpx.get(location)  # the bucket serves it with the headers stored with it
    assert fetched.status_code == 200 and fetched.content == b"notes"
    assert fetched.headers["Content-Type"] == "text/plain"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="notes.txt"'


def test_types_a_browser_runs_are_refused_even_when_configured(alice_bob_pics_and_carol, settings):
    alice, _, _, chat = alice_bob_pics_and_carol
    active = ["image/svg+xml", "text/html", "application/xhtml+xml", "text/javascript", "text/xml"]
    settings.CHAT_UPLOAD_TYPES = [*settings.CHAT_UPLOAD_TYPES, *active]
    for content_type in active:
        response = upload_url(alice, str(chat.pk), "x.txt", content_type, 100)
        assert (response.status_code, response.json()["code"]) == (400, "type_not_allowed")


def test_local_files_are_served_as_checked_sandboxed_and_downloads_unless_pictures(
    alice_bob_pics_and_carol, local_media
):
    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    polyglot = png() + b"<html><script>alert(document.domain)</script></html>"
    cases = [
        ("photo.html", "image/png", polyglot, "inline"),
        ("lib.js", "text/plain", b"alert(document.cookie)", "attachment"),
        ("invoice.html", "text/plain", b"<script>alert(1)</script>", "attachment"),
    ]
    client = Client()
    client.force_login(bob)
    for name, content_type, data, disposition in cases:
        attachment = uploaded(alice, chat_id, data, name=name, content_type=content_type)
        sent = api_as(alice).post(
            f"/api/chats/{chat_id}/messages", {"message": "", "attachments": [attachment]},
            format="json",
        )  # fmt: skip
        (described,) = sent.json()["attachments"]
        served = client.get(described["url"])
        assert served["Content-Type"] == content_type, name
        assert served["Content-Disposition"] == f'{disposition}; filename="{name}"'
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # A row of a type refused since (stored before the rule) is a download of no type.
    Upload.objects.filter(pk=attachment).update(content_type="text/html")
    served = client.get(described["url"])
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment")


def test_an_s3_object_bigger_than_the_limit_is_refused_at_attach(
    alice_bob_pics_and_carol, s3_media
):
    client, bucket = s3_media
    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    ticket = upload_url(alice, chat_id, data=png()).json()
    # moto accepts what real S3 would refuse by the policy's content-length-range.
    client.put_object(Bucket=bucket, Key=ticket["fields"]["key"], Body=b"\x89PNG" + b"0" * MAX)
    sent = api_as(alice).post(
        f"/api/chats/{chat_id}/messages",
        {"message": "big", "attachments": [ticket["attachmentId"]]}, format="json",
    )  # fmt: skip
    assert (sent.status_code, sent.json()["code"]) == (400, "too_big")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


# -- Static files on S3 ------------------------------------------------------------------------


def test_collectstatic_puts_hashed_files_in_the_bucket_and_pages_use_the_cdn(moto_server, tmp_path):
    import re
    import subprocess
    import sys

    from tests.servers import AWS_TEST_ENV, ROOT, server_env

    bucket = f"static-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    env = server_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", **AWS_TEST_ENV,
        CHAT_STATIC_BUCKET=bucket, CHAT_CDN_DOMAIN="cdn.example.test",
        AWS_ENDPOINT_URL_S3=moto_server.url, DJANGO_STATIC_FROM_FINDERS="0",
    )  # fmt: skip

    def manage(*args):
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("collectstatic", "--noinput", "-v0")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)["Contents"]}
    assert "static/staticfiles.json" in keys
    hashed = [k for k in keys if re.fullmatch(r"static/chat/room\.[0-9a-f]{12}\.js", k)]
    assert len(hashed) == 1
    login = (
        "from django.test import Client; "
        "page = Client(HTTP_HOST='localhost').get('/accounts/login/')"
    )
    page = manage("shell", "-c", f"{login}; print(page.content.decode())")
    styles = re.findall(r'<link[^>]+href="([^"]+\.css)"', page)
    assert styles and all(s.startswith("https://cdn.example.test/static/") for s in styles)
    for url in styles:
        assert url.removeprefix("https://cdn.example.test/") in keys
    csp = manage("shell", "-c", f"{login}; print(page['Content-Security-Policy'])")
    csp = csp.strip().splitlines()[-1]  # (the shell may say what it imported first)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    # Scripts and styles only from the static files' path: members' files share the CDN.
    for directive in ("script-src", "style-src", "font-src"):
        assert directive in directives, csp
        # Not even 'self': /media/ redirects to the CDN, where a source's path is not checked.
        assert directives[directive].split() == ["https://cdn.example.test/static/"], directive


def test_deleting_a_message_or_a_room_deletes_its_files(
    alice_bob_pics_and_carol, make_user, local_media
):
    from chat.moderation.actions import message_remove

    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)

    def sent(n):
        attachment = uploaded(alice, chat_id, png())
        response = api_as(alice).post(
            f"/api/chats/{chat_id}/messages",
            {"message": f"m{n}", "attachments": [attachment]}, format="json",
        )  # fmt: skip
        assert response.status_code == 201
        return response.json()

    first, second = sent(1), sent(2)
    thumbnails.worker.wait_idle()  # previews are made after the sends
    files = lambda: sorted(p.parent.name for p in local_media.rglob("*") if p.is_file())  # noqa: E731
    assert files() == sorted(
        [first["attachments"][0]["id"]] * 2 + [second["attachments"][0]["id"]] * 2
    )
    message_remove(chat_id=chat_id, seq=first["seq"])
    assert files() == [second["attachments"][0]["id"]] * 2  # the file and its thumbnail
    client = Client()
    client.force_login(bob)
    assert client.get(first["attachments"][0]["url"]).status_code == 404
    chat.delete()
    assert files() == []


def test_one_upload_sent_by_two_messages_at_once_is_attached_to_one(alice_bob_pics_and_carol):
    import threading

    from django.db import connections

    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    attachment = uploaded(alice, chat_id, png())
    barrier, answers = threading.Barrier(4), []

    def send(n):
        try:
            barrier.wait(10)
            response = api_as(alice).post(
                f"/api/chats/{chat_id}/messages",
                {"message": f"race {n}", "attachments": [attachment]}, format="json",
            )  # fmt: skip
            answers.append((response.status_code, response.json().get("code")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [(201, None)] + [(400, "attachment_used")] * 3, answers
    history = api_as(alice).get(f"/api/chats/{chat_id}/messages").json()["messages"]
    assert [len(m["attachments"]) for m in history] == [1]


# -- Pictures' previews: after the send, one at a time, bounded ---------------------------------


def _send(user, chat_id, attachment):
    return api_as(user).post(
        f"/api/chats/{chat_id}/messages", {"message": "", "attachments": [attachment]},
        format="json",
    )  # fmt: skip


def test_a_send_is_answered_before_its_preview_is_made(
    alice_bob_pics_and_carol, local_media, monkeypatch
):
    import threading

    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    release, started = threading.Event(), threading.Event()
    render = thumbnails.render

    def slow_render(data):
        started.set()
        assert release.wait(10)
        return render(data)

    monkeypatch.setattr(thumbnails, "render", slow_render)
    sent = _send(alice, chat_id, uploaded(alice, chat_id, png(1200, 900)))
    assert sent.status_code == 201
    (described,) = sent.json()["attachments"]
    assert (described["width"], described["height"]) == (1200, 900)  # from the header
    assert started.wait(10)  # the worker has it, and the send was answered meanwhile
    upload = Upload.objects.get(pk=described["id"])
    assert upload.thumbnail_ready is False
    release.set()
    thumbnails.worker.wait_idle()
    upload.refresh_from_db()
    assert upload.thumbnail_ready is True
    client = Client()
    client.force_login(bob)
    preview = client.get(described["thumbnailUrl"])
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(preview.streaming_content))).size == (480, 360)


def test_a_preview_not_made_yet_is_made_on_first_fetch_or_by_the_sweep(
    alice_bob_pics_and_carol, local_media
):
    from django.core.management import call_command

    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    sent = [_send(alice, chat_id, uploaded(alice, chat_id, png(900, 900))) for _ in range(2)]
    thumbnails.worker.wait_idle()
    first, second = (s.json()["attachments"][0] for s in sent)
    # As if the process had stopped before making them.
    for described in (first, second):
        upload = Upload.objects.get(pk=described["id"])
        (local_media / upload.thumbnail_key).unlink()
    Upload.objects.update(thumbnail_ready=False)
    client = Client()
    client.force_login(bob)
    preview = client.get(first["thumbnailUrl"])
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    Upload.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    out = io.StringIO()
    call_command("purge_uploads", stdout=out)
    assert "1 missing previews made" in out.getvalue()
    assert Upload.objects.filter(thumbnail_ready=False).count() == 0
    assert (local_media / Upload.objects.get(pk=second["id"]).thumbnail_key).exists()


def test_a_picture_over_the_pixel_cap_is_refused_without_decoding_it(
    alice_bob_pics_and_carol, local_media, monkeypatch
):
    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    attachment = uploaded(alice, chat_id, png(1001, 1000))
    monkeypatch.setattr(thumbnails, "IMAGE_MAX_PIXELS", 1000 * 1000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda *a: decoded.append(a) or None)
    sent = _send(alice, chat_id, attachment)
    assert (sent.status_code, sent.json()["code"]) == (400, "image_too_large")
    assert decoded == []


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA", "CMYK", "I;16"])
def test_previews_of_pictures_of_every_mode(mode):
    out = io.BytesIO()
    picture = Image.new(mode, (3000, 1000))
    picture.save(out, "TIFF" if mode == "CMYK" else "PNG")
    preview = Image.open(io.BytesIO(thumbnails.render(out.getvalue())))
    assert (preview.format, preview.mode, preview.size) == ("JPEG", "RGB", (480, 160))


def test_webp_pictures_have_a_lower_pixel_cap(alice_bob_pics_and_carol, local_media, monkeypatch):
    alice, _, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "WEBP")
    attachment = uploaded(alice, chat_id, out.getvalue(), name="p.webp", content_type="image/webp")
    monkeypatch.setattr(thumbnails, "FORMAT_MAX_PIXELS", {"WEBP": 40 * 30 - 1})
    sent = _send(alice, chat_id, attachment)
    assert (sent.status_code, sent.json()["code"]) == (400, "image_too_large")
    assert _send(alice, chat_id, uploaded(alice, chat_id, png(40, 30))).status_code == 201


def test_a_picture_that_cannot_be_previewed_is_marked_once_and_kept(
    alice_bob_pics_and_carol, local_media
):
    from django.core.management import call_command

    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    broken = png(300, 200)[:60] + b"\x00" * 200  # a whole header, then nothing of the picture
    sent = _send(alice, chat_id, uploaded(alice, chat_id, broken, name="thumbnail.png"))
    assert sent.status_code == 201
    (described,) = sent.json()["attachments"]
    thumbnails.worker.wait_idle()
    upload = Upload.objects.get(pk=described["id"])
    assert (upload.thumbnail_key, upload.thumbnail_ready) == ("", False)
    client = Client()
    client.force_login(bob)
    assert client.get(described["thumbnailUrl"]).status_code == 404
    Upload.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    out = io.StringIO()
    call_command("purge_uploads", stdout=out)
    assert "0 missing previews made" in out.getvalue()  # not tried again
    # The file itself is what was sent.
    assert b"".join(client.get(described["url"]).streaming_content) == broken


def test_a_file_named_like_a_preview_keeps_its_own_bytes(alice_bob_pics_and_carol, local_media):
    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    picture = png(900, 600)
    for name in ("thumbnail.jpg", ".preview.jpg", "preview.jpg"):
        jpeg = io.BytesIO()
        Image.open(io.BytesIO(picture)).convert("RGB").save(jpeg, "JPEG")
        data = jpeg.getvalue()
        sent = _send(alice, chat_id, uploaded(alice, chat_id, data, name=name,
                                              content_type="image/jpeg"))  # fmt: skip
        (described,) = sent.json()["attachments"]
        thumbnails.worker.wait_idle()
        client = Client()
        client.force_login(bob)
        assert b"".join(client.get(described["url"]).streaming_content) == data, name
        preview = b"".join(client.get(described["thumbnailUrl"]).streaming_content)
        assert Image.open(io.BytesIO(preview)).size == (480, 320)


def test_one_sender_cannot_hold_everyone_s_previews_back(
    alice_bob_pics_and_carol, local_media, settings, monkeypatch
):
    import threading

    alice, bob, _, chat = alice_bob_pics_and_carol
    chat_id = str(chat.pk)
    settings.CHAT_THUMBNAIL_QUEUE = 20  # a sender may have 2 waiting
    release = threading.Event()
    render = thumbnails.render
    monkeypatch.setattr(thumbnails, "render", lambda data: release.wait(10) and render(data))
    mine = api_as(alice).post(
        f"/api/chats/{chat_id}/messages",
        {"message": "", "attachments": [uploaded(alice, chat_id, png(600, 400)) for _ in range(5)]},
        format="json",
    ).json()["attachments"]  # fmt: skip
    theirs = _send(bob, chat_id, uploaded(bob, chat_id, png(600, 400))).json()["attachments"]
    with thumbnails.worker._lock:
        waiting = set(thumbnails.worker._jobs)
    assert len(waiting & {a["id"] for a in mine}) == 2
    assert theirs[0]["id"] in waiting
    release.set()
    thumbnails.worker.wait_idle()
    # The others are made on first fetch.
    client = Client()
    client.force_login(bob)
    for described in mine:
        assert client.get(described["thumbnailUrl"]).status_code == 200
