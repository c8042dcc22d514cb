"""The media views: receiving a local upload (what S3 does with a presigned POST), and serving
a chat's files to its members, checked on every fetch: from this app's disk, or by a redirect
to a short-lived signed URL of the CDN or bucket."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chat import errors, selectors
from chat.media import thumbnails
from chat.media.storage import media_storage, url_for, url_reuse_seconds
from chat.media.types import INLINE_TYPES, SANDBOX_HEADERS, served_type
from chat.media.uploads import upload_receive
from chat.models import Upload

# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 64 * 1024
# How long a request for a preview not made yet waits for it.
THUMBNAIL_WAIT_SECONDS = 10


def _error(exc: errors.ChatError, status: int = 400) -> JsonResponse:
    return JsonResponse({"status": status, "code": exc.code, "detail": exc.detail}, status=status)


# The signed token in the form is what authorizes the upload (as the policy's signature does on
# S3), so no CSRF token: a page of another site cannot have one.
@csrf_exempt
@require_POST
def upload(request, attachment_id):
    if not request.user.is_authenticated:
        return _error(errors.Forbidden("Log in to upload.", code="not_logged_in"), 403)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return _error(errors.InvalidInput("The upload needs a Content-Length.", code="no_length"))
    if length > settings.CHAT_UPLOAD_MAX_BYTES + FORM_OVERHEAD:
        # Refused before the body is read.
        detail = f"Files are limited to {settings.CHAT_UPLOAD_MAX_BYTES} bytes."
        return _error(errors.InvalidInput(detail, code="too_big"), 413)
    try:
        upload_receive(
            attachment_id=str(attachment_id),
            user=request.user,
            token=request.POST.get("token", ""),
            content_type=request.POST.get("Content-Type", ""),
            file=request.FILES.get("file"),
        )
    except errors.ChatError as exc:
        return _error(exc, 413 if exc.code == "too_big" else 400)
    return HttpResponse(status=204)


def _serve(request, chat_id, attachment_id, *, thumbnail: bool):
    found = Upload.objects.filter(
        pk=attachment_id, chat_id=chat_id, state=Upload.State.ATTACHED
    ).first()
    member = selectors.member_access(chat_id=str(chat_id), user_id=str(request.user.pk))
    if found is None or member is None or (thumbnail and not found.thumbnail_key):
        raise Http404("No such file.")  # the same for a file of a chat one is not in
    # A preview whose turn in the queue has not come yet is made on first fetch.
    if (
        thumbnail
        and not found.thumbnail_ready
        and not thumbnails.thumbnail_ensure(found.pk, timeout=THUMBNAIL_WAIT_SECONDS)
    ):
        response = HttpResponse("The preview is not ready yet.", status=503)
        response["Retry-After"] = "2"
        return response
    key = found.thumbnail_key if thumbnail else found.key
    if settings.CHAT_MEDIA == "s3":
        # The bytes come from the CDN (or the bucket), by a URL valid minutes, made for a
        # member now; the browser may reuse it for as long as this answer says.
        response = HttpResponseRedirect(url_for(key))
        response["Cache-Control"] = f"private, max-age={url_reuse_seconds()}"
        return response
    content_type = "image/jpeg" if thumbnail else served_type(found.content_type)
    response = FileResponse(
        media_storage().open(key, "rb"),
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=found.name,
    )
    for header, value in SANDBOX_HEADERS.items():
        response[header] = value
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def media(request, chat_id, attachment_id):
    return _serve(request, chat_id, attachment_id, thumbnail=False)


@login_required
@require_GET
def media_thumbnail(request, chat_id, attachment_id):
    return _serve(request, chat_id, attachment_id, thumbnail=True)
