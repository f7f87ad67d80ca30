// codexec's web page: a conversation with code execution, on this server's own Gemini API.
// Plain JS, no build step, no network beyond this server.
"use strict";

const KEY_STORAGE = "codexec.apiKey";
const API = "v1beta";
const $ = (id) => document.getElementById(id);

const state = {
  contents: [], // the conversation as Gemini `contents`, sent whole with every request
  attachments: [], // files waiting for the next question: {name, mimeType, data, size}
  files: [], // the session's files panel: {name, mimeType, data, size, origin}
  figures: 0,
  abort: null, // the running request's AbortController
};

// --- small helpers ---------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) h["x-goog-api-key"] = key;
  return h;
}

function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function b64Size(data) {
  return Math.floor((data.length * 3) / 4) - (data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0);
}

function errorMessage(body, status) {
  // Gemini errors: {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}
  const e = body && body.error;
  if (e && e.message) return `${e.code || status} ${e.status || ""}: ${e.message}`.replace(" :", ":");
  return `HTTP ${status}`;
}

async function responseError(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    /* not JSON */
  }
  return errorMessage(body, resp.status);
}

function showError(message) {
  $("error-text").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

function scrollDown() {
  window.scrollTo(0, document.body.scrollHeight);
}

// --- models ----------------------------------------------------------------------------------

async function loadModels() {
  const select = $("model");
  const previous = select.value || localStorage.getItem("codexec.model");
  let resp;
  try {
    resp = await fetch(`${API}/models`, { headers: headers() });
  } catch (err) {
    showError(`Cannot reach the server: ${err.message}`);
    return;
  }
  if (!resp.ok) {
    showError(`Cannot list the models: ${await responseError(resp)}`);
    return;
  }
  const names = ((await resp.json()).models || []).map((m) => m.name.replace(/^models\//, ""));
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  if (previous && names.includes(previous)) select.value = previous;
  clearError();
}

// --- files -----------------------------------------------------------------------------------

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result); // data:<mime>;base64,<data>
      resolve({
        name: file.name,
        mimeType: file.type || "application/octet-stream",
        data: url.slice(url.indexOf(",") + 1),
        size: file.size,
      });
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function attach(fileList) {
  for (const file of fileList) {
    try {
      state.attachments.push(await readFile(file));
    } catch (err) {
      showError(`Cannot read ${file.name}: ${err}`);
    }
  }
  renderAttachments();
}

function renderAttachments() {
  const list = $("attachments");
  list.replaceChildren(
    ...state.attachments.map((f, i) => {
      const item = el("li", "attachment", `${f.name} (${humanSize(f.size)})`);
      const remove = el("button", "", "×");
      remove.type = "button";
      remove.title = `remove ${f.name}`;
      remove.onclick = () => {
        state.attachments.splice(i, 1);
        renderAttachments();
      };
      item.append(remove);
      return item;
    }),
  );
}

function addSessionFile(file) {
  state.files.push(file);
  const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
  const link = el("a", "", file.name);
  link.href = URL.createObjectURL(new Blob([bytes], { type: file.mimeType }));
  link.download = file.name;
  const item = el("li");
  item.dataset.name = file.name;
  item.append(link, el("span", "meta", ` · ${humanSize(bytes.length)} · ${file.origin}`));
  $("files").append(item);
}

// --- rendering a model turn as its chunks arrive ---------------------------------------------

class ModelTurn {
  constructor(container) {
    this.node = el("div", "turn model pending");
    container.append(this.node);
    this.parts = []; // what goes back into `contents` for the next question
    this.textNode = null;
  }

  addPart(part) {
    if (part.thought) return;
    if (part.text !== undefined) return this.addText(part.text);
    this.textNode = null;
    this.parts.push(part);
    if (part.executableCode) this.addCode(part.executableCode);
    else if (part.codeExecutionResult) this.addResult(part.codeExecutionResult);
    else if (part.inlineData) this.addInline(part.inlineData);
    else if (part.functionCall) {
      this.node.append(el("div", "note", `function call: ${part.functionCall.name}(${JSON.stringify(part.functionCall.args || {})})`));
    }
  }

  addText(text) {
    const last = this.parts[this.parts.length - 1];
    if (this.textNode && last && last.text !== undefined) last.text += text;
    else this.parts.push({ text });
    if (!this.textNode) {
      this.textNode = el("div", "text");
      this.node.append(this.textNode);
    }
    this.textNode.textContent += text;
  }

  addCode(code) {
    const block = el("div", "block code");
    const pre = el("pre");
    pre.append(el("code", "", code.code));
    block.append(el("div", "label", `code · ${(code.language || "PYTHON").toLowerCase()}`), pre);
    this.node.append(block);
  }

  addResult(result) {
    const ok = result.outcome === "OUTCOME_OK";
    const block = el("div", `block result ${ok ? "ok" : "failed"}`);
    block.append(el("div", "label", result.outcome), el("pre", "", result.output || "(no output)"));
    this.node.append(block);
  }

  addInline(blob) {
    const mime = blob.mimeType || "application/octet-stream";
    if (mime.startsWith("image/")) {
      state.figures += 1;
      const name = blob.displayName || `figure_${state.figures}.${mime.split("/")[1]}`;
      const figure = el("figure");
      const img = el("img", "figure");
      img.src = `data:${mime};base64,${blob.data}`;
      img.alt = name;
      figure.append(img, el("figcaption", "", name));
      this.node.append(figure);
      addSessionFile({ name, mimeType: mime, data: blob.data, origin: "figure" });
    } else {
      const name = blob.displayName || `output_${state.files.length + 1}`;
      this.node.append(el("div", "note", `file: ${name}`));
      addSessionFile({ name, mimeType: mime, data: blob.data, origin: "output" });
    }
  }

  finish(candidate) {
    const reason = candidate.finishReason;
    if (reason && reason !== "STOP") {
      this.node.append(el("div", "note", candidate.finishMessage || `finish reason: ${reason}`));
    }
  }

  usage(u) {
    const line =
      `tokens: prompt ${u.promptTokenCount || 0} · tool-use ${u.toolUsePromptTokenCount || 0}` +
      ` · output ${u.candidatesTokenCount || 0} · total ${u.totalTokenCount || 0}`;
    let node = this.node.querySelector(".usage");
    if (!node) {
      node = el("div", "usage");
      this.node.append(node);
    }
    node.textContent = line;
  }

  fail(message) {
    this.node.append(el("div", "turn-error", message));
  }

  done() {
    this.node.classList.remove("pending");
  }
}

// --- one question: POST :streamGenerateContent?alt=sse and render its events ---------------------

async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r/g, "");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

function userTurn(text, files) {
  const node = el("div", "turn user", text);
  if (files.length) node.append(el("div", "attached", `attached: ${files.map((f) => f.name).join(", ")}`));
  $("conversation").append(node);
  return node;
}

async function ask(text) {
  clearError();
  $("empty-hint")?.remove();
  const files = state.attachments.splice(0);
  renderAttachments();
  const parts = [];
  if (text) parts.push({ text });
  for (const f of files) {
    parts.push({ inlineData: { mimeType: f.mimeType, data: f.data, displayName: f.name } });
  }
  const userNode = userTurn(text, files);
  const contents = [...state.contents, { role: "user", parts }];
  const body = { contents };
  if ($("code-execution").checked) body.tools = [{ codeExecution: {} }];
  const model = encodeURIComponent($("model").value || "default");
  const url = `${API}/models/${model}:streamGenerateContent?alt=sse`;
  const turn = new ModelTurn($("conversation"));
  scrollDown();
  setBusy(true);
  let failed = null;
  try {
    const resp = await fetch(url, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(body),
      signal: state.abort.signal,
    });
    if (!resp.ok) {
      failed = await responseError(resp);
    } else {
      for await (const chunk of sseEvents(resp.body)) {
        if (chunk.error) {
          failed = errorMessage(chunk, chunk.error.code);
          break;
        }
        const candidate = (chunk.candidates || [])[0] || {};
        for (const part of (candidate.content && candidate.content.parts) || []) turn.addPart(part);
        turn.finish(candidate);
        if (chunk.usageMetadata) turn.usage(chunk.usageMetadata);
        scrollDown();
      }
    }
  } catch (err) {
    failed = err.name === "AbortError" ? "Stopped." : `Request failed: ${err.message}`;
  } finally {
    setBusy(false);
    turn.done();
  }
  if (failed) {
    // the server refused or failed: show why, and keep this question out of the history
    turn.fail(failed);
    if (failed !== "Stopped.") showError(failed);
    userNode.classList.add("refused");
    return;
  }
  for (const f of files) addSessionFile({ ...f, origin: "uploaded" });
  state.contents = [...contents, { role: "model", parts: turn.parts }];
}

function setBusy(busy) {
  const send = $("send");
  state.abort = busy ? new AbortController() : null;
  send.textContent = busy ? "Stop" : "Run";
  send.classList.toggle("stop", busy);
}

// --- wiring ------------------------------------------------------------------------------------

function submit() {
  if (state.abort) {
    state.abort.abort();
    return;
  }
  const prompt = $("prompt");
  const text = prompt.value.trim();
  if (!text && !state.attachments.length) return;
  prompt.value = "";
  ask(text);
}

function newChat() {
  if (state.abort) state.abort.abort();
  state.contents = [];
  state.files = [];
  state.figures = 0;
  $("conversation").replaceChildren();
  $("files").replaceChildren();
  clearError();
}

function setupDragAndDrop() {
  const overlay = $("drop-overlay");
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
  document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  document.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    attach(e.dataTransfer.files);
  });
}

function init() {
  const key = $("api-key");
  key.value = localStorage.getItem(KEY_STORAGE) || "";
  key.addEventListener("change", () => {
    const value = key.value.trim();
    if (value) localStorage.setItem(KEY_STORAGE, value);
    else localStorage.removeItem(KEY_STORAGE);
    loadModels();
  });
  $("model").addEventListener("change", () => localStorage.setItem("codexec.model", $("model").value));
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  $("file-input").addEventListener("change", (e) => {
    attach(e.target.files);
    e.target.value = "";
  });
  $("new-chat").addEventListener("click", newChat);
  $("error-close").addEventListener("click", clearError);
  setupDragAndDrop();
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
