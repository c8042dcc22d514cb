// Files in the chat page: asking for an upload URL, sending the file there with progress, and
// showing a message's attachments. Used by room.js. All names go through textContent.
"use strict";

const ChatFiles = {
  csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  },

  formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  },

  // Why this file cannot be sent (checked again by the server), or null.
  refusal(file, limits) {
    if (!limits.uploadTypes.includes(file.type)) return `${file.type || "This type of file"} cannot be sent.`;
    if (file.size > limits.maxUpload) return `Too big: files are limited to ${ChatFiles.formatSize(limits.maxUpload)}.`;
    if (file.size === 0) return "The file is empty.";
    return null;
  },

  // Ask for an upload URL, then POST the file there; resolves to the attachment id.
  async upload(file, chatId, onProgress) {
    const response = await fetch("/api/upload-url", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": ChatFiles.csrfToken() },
      body: JSON.stringify({ chatId, filename: file.name || "pasted-image.png", contentType: file.type, size: file.size }),
    });
    const ticket = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(ticket.detail || `The upload was refused (${response.status}).`);
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append("file", file, file.name || "pasted-image.png");
    await new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", ticket.url);
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      request.onload = () => {
        if (request.status >= 200 && request.status < 300) return resolve();
        let detail = `The upload failed (${request.status}).`;
        try {
          detail = JSON.parse(request.responseText).detail || detail;
        } catch (err) {
          // S3 answers in XML; the status says enough.
        }
        reject(new Error(detail));
      };
      request.onerror = () => reject(new Error("The upload failed: the connection was lost."));
      request.send(form);
    });
    return ticket.attachmentId;
  },

  // The attachments of a message: image previews (click for the full image) and file chips.
  render(attachments) {
    const box = document.createElement("div");
    box.className = "attachments";
    for (const attachment of attachments) {
      const link = document.createElement("a");
      link.href = attachment.url;
      link.target = "_blank";
      link.rel = "noopener";
      if (attachment.thumbnailUrl) {
        link.className = "attachment-image";
        const image = document.createElement("img");
        image.src = attachment.thumbnailUrl;
        image.alt = attachment.name;
        // A picture's preview is made just after it is sent: until it is there, ask again.
        let tries = 0;
        image.addEventListener("error", () => {
          tries += 1;
          if (tries <= 6) setTimeout(() => { image.src = attachment.thumbnailUrl; }, 500 * 2 ** tries);
        });
        const scale = Math.min(1, 240 / Math.max(attachment.width, attachment.height));
        image.width = Math.round(attachment.width * scale);
        image.height = Math.round(attachment.height * scale);
        link.append(image);
      } else {
        link.className = "attachment-file";
        link.download = attachment.name;
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = attachment.name;
        const size = document.createElement("span");
        size.className = "size";
        size.textContent = ChatFiles.formatSize(attachment.size);
        link.append(name, " ", size);
      }
      box.append(link);
    }
    return box;
  },
};
