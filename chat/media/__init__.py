"""Files in chats: upload URLs, checks when a message attaches a file, and serving.

A member asks for an upload URL (``uploads.upload_start``) and the browser sends the file
straight to storage, under a quarantine prefix: an S3 presigned POST (``CHAT_MEDIA=s3``) or an
equivalent signed POST to this app (``local``). Nothing is trusted until a message attaches
it (``uploads.attachments_claim``): then the server reads what was stored, checks its size and
its first bytes against the declared type, moves it out of quarantine and measures pictures;
their previews are made after the send (``thumbnails``). Messages carry descriptors; URLs are
made when a message is shown (``urls``): the CDN's, or this app's, which serves a chat's files
to its members only.
"""
