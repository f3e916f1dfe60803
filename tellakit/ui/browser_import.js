// The browser's side of tellakit's streaming import (see tellakit/ui/streaming_import.py for
// the conversation). Each chosen file is read in slices and sent as binary buffers, with at
// most `window` slices waiting for the kernel's acknowledgement: a file of any size crosses in
// constant memory, in the browser, the Jupyter server and the kernel. Nothing is written to
// disk on the way; the kernel encrypts each slice into the vault as it arrives.

function humanSize(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function newId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class Row {
  // One file: name, a progress bar, "x of y · z%", and Cancel while it runs.
  constructor(file, onCancel) {
    this.node = element("div", "tk-import-row");
    this.name = element("span", "tk-import-name", file.name);
    this.bar = element("progress", "tk-import-bar");
    this.bar.max = Math.max(file.size, 1);
    this.bar.value = 0;
    this.detail = element("span", "tk-import-detail", `waiting · ${humanSize(file.size)}`);
    this.cancel = element("button", "jupyter-button tk-import-cancel", "Cancel");
    this.cancel.addEventListener("click", onCancel);
    this.node.append(this.name, this.bar, this.detail, this.cancel);
    this.size = file.size;
  }

  progress(received) {
    this.bar.value = received;
    const pct = this.size ? Math.floor((100 * received) / this.size) : 100;
    this.detail.textContent = `${humanSize(received)} of ${humanSize(this.size)} · ${pct}%`;
  }

  finish(kind, message) {
    this.cancel.remove();
    this.node.classList.add(`tk-import-${kind}`);
    if (kind === "done") {
      this.bar.value = this.bar.max;
      this.detail.textContent = `${humanSize(this.size)} · in the vault ✓`;
    } else {
      this.detail.textContent = message;
      const dismiss = element("button", "jupyter-button tk-import-dismiss", "×");
      dismiss.title = "Dismiss";
      dismiss.addEventListener("click", () => this.node.remove());
      this.node.append(dismiss);
    }
  }
}

class Transfer {
  constructor(model, file, options) {
    this.model = model;
    this.file = file;
    this.options = options;
    this.id = newId();
    this.ready = false;
    this.inflight = 0;
    this.final = null; // the kernel's last word: done, failed or cancelled
    this.wake = null;
    this.row = new Row(file, () => this.cancel());
  }

  receive(msg) {
    if (msg.kind === "ready") {
      this.ready = true;
    } else if (msg.kind === "ack") {
      this.inflight = Math.max(0, this.inflight - 1);
      this.row.progress(msg.received);
    } else if (["done", "failed", "cancelled"].includes(msg.kind)) {
      this.final = msg;
    }
    if (this.wake) this.wake();
  }

  // Resolves at the next message from the kernel; rejects when it stays silent too long.
  nextMessage() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = null;
        reject(new Error("silent"));
      }, this.options.ackTimeout);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  async until(condition) {
    while (!condition()) await this.nextMessage();
  }

  send(content, buffers) {
    this.model.send({ ...content, id: this.id }, undefined, buffers);
  }

  cancel() {
    if (this.final || this.cancelling) return;
    this.cancelling = true;
    this.row.cancel.disabled = true;
    this.row.detail.textContent = "cancelling…";
    this.send({ kind: "cancel" });
  }

  async run() {
    const { file } = this;
    const { sliceSize, window } = this.options;
    try {
      this.send({ kind: "begin", name: file.name, size: file.size, mime: file.type || "" });
      await this.until(() => this.ready || this.final);
      let offset = 0;
      let seq = 0;
      while (!this.final && !this.cancelling && offset < file.size) {
        // Read the next slice while earlier ones are on their way, then wait for room.
        const buffer = await file.slice(offset, offset + sliceSize).arrayBuffer();
        await this.until(() => this.inflight < window || this.final);
        if (this.final || this.cancelling) break;
        this.send({ kind: "slice", seq, offset }, [buffer]);
        this.inflight += 1;
        seq += 1;
        offset += buffer.byteLength;
      }
      if (!this.final && !this.cancelling) this.send({ kind: "end", size: offset });
      await this.until(() => this.final);
    } catch (error) {
      if (!this.final) {
        const silent = error && error.message === "silent";
        const template = this.options.texts[silent ? "silent" : "unreadable"];
        const message = template.replace("{name}", file.name).replace("{detail}", `${error}`);
        this.final = { kind: "failed", message };
        try {
          this.send({ kind: "cancel" });
        } catch (_) {
          // the connection is gone; the kernel's watchdog drops the import
        }
      }
    }
    const kind = this.final.kind;
    this.row.finish(kind, this.final.message || "");
    return kind;
  }
}

function render({ model, el }) {
  const transfers = new Map();
  const root = element("div", "tk-browser-import");
  const input = element("input", "tk-browser-import-input");
  input.type = "file";
  input.multiple = true;
  input.style.display = "none";
  const button = element("button", "jupyter-button tk-add-files");
  const icon = element("i", "fa fa-upload");
  button.append(icon, document.createTextNode(` ${model.get("description")}`));
  button.title = "Choose files on this computer; they are encrypted into the vault as they arrive";
  const rows = element("div", "tk-import-rows");
  root.append(button, input, rows);
  el.append(root);

  const syncDisabled = () => {
    button.disabled = model.get("disabled");
  };
  syncDisabled();
  model.on("change:disabled", syncDisabled);

  const onMessage = (msg) => {
    const transfer = msg && transfers.get(msg.id);
    if (transfer) transfer.receive(msg);
  };
  model.on("msg:custom", onMessage);

  let queue = Promise.resolve();
  const add = (files) => {
    for (const file of files) {
      const transfer = new Transfer(model, file, {
        sliceSize: model.get("slice_size"),
        window: model.get("window"),
        ackTimeout: model.get("ack_timeout_ms"),
        texts: model.get("texts"),
      });
      rows.append(transfer.row.node);
      // One file at a time, in the order chosen; each file keeps `window` slices in flight.
      queue = queue.then(async () => {
        transfers.set(transfer.id, transfer);
        try {
          const kind = await transfer.run();
          if (kind === "done") setTimeout(() => transfer.row.node.remove(), 3000);
        } finally {
          transfers.delete(transfer.id);
        }
      });
    }
  };
  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = ""; // the same file may be chosen again later
    add(files);
  });

  // A page being closed: tell the kernel (best effort; its watchdog covers a lost message).
  const onPageHide = () => {
    for (const transfer of transfers.values()) transfer.cancel();
  };
  window.addEventListener("pagehide", onPageHide);
  return () => {
    window.removeEventListener("pagehide", onPageHide);
    model.off("msg:custom", onMessage);
    model.off("change:disabled", syncDisabled);
    onPageHide();
  };
}

export default { render };
