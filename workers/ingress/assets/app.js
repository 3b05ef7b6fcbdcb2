// The pdfmill start page: pick or drop images, submit them as one job, and follow each job
// live over server-sent events. It uses only the public HTTP API.
"use strict";

const $ = (id) => document.getElementById(id);
let files = [];

function apiKey() {
  return $("api-key").value.trim();
}

function withKey(url) {
  const key = apiKey();
  return key ? `${url}${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(key)}` : url;
}

function setFiles(list) {
  files = Array.from(list).filter((f) => /^image\/(png|jpeg)$/.test(f.type) || /\.(png|jpe?g)$/i.test(f.name));
  const picked = $("picked");
  picked.replaceChildren(...files.map((f) => {
    const li = document.createElement("li");
    li.textContent = `${f.name} (${formatSize(f.size)})`;
    return li;
  }));
  $("submit").disabled = files.length === 0;
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function showError(message) {
  const box = $("form-error");
  box.textContent = message;
  box.hidden = !message;
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const form = new FormData();
  for (const file of files) form.append("image", file, file.name);
  const email = $("email").value.trim();
  if (email) form.append("email", email);
  form.append("page_size", $("page_size").value);
  const headers = { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()) };
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/conversions", { method: "POST", body: form, headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (response.status === 401) $("key-box").open = true;
      showError(body.error ? body.error.message : `The server answered ${response.status}.`);
      return;
    }
    follow(body.id, files.map((f) => f.name).join(", "));
    setFiles([]);
    $("images").value = "";
  } catch (error) {
    showError(`Could not reach the server: ${error}`);
  } finally {
    $("submit").disabled = files.length === 0;
  }
}

function follow(id, label) {
  $("no-jobs").hidden = true;
  const item = $("job-template").content.firstElementChild.cloneNode(true);
  item.dataset.id = id;
  item.querySelector(".name").textContent = label || id;
  item.querySelector(".name").title = id;
  $("jobs").prepend(item);
  render(item, { state: "queued" });
  const events = new EventSource(withKey(`/v1/conversions/${encodeURIComponent(id)}/events`));
  events.addEventListener("status", (message) => {
    const status = JSON.parse(message.data);
    render(item, status);
    const done = ["failed", "emailed", "email_failed"].includes(status.state) || (status.state === "converted" && !status.email);
    if (done) events.close();
  });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) render(item, { state: "unknown", error: { message: "lost the live connection; reload to see the status" } });
  };
}

function emailNote(status) {
  if (status.state === "emailed") return `emailed to ${status.email}`;
  if (status.state === "email_failed") return `could not email ${status.email}; the PDF is ready below`;
  return `email to ${status.email}`;
}

function render(item, status) {
  const state = item.querySelector(".state");
  state.textContent = status.state.replace("_", " ");
  state.className = `state state-${status.state}`;
  item.dataset.state = status.state;
  const parts = [];
  if (status.pages !== undefined) parts.push(`${status.pages} page${status.pages === 1 ? "" : "s"}`);
  if (status.size_bytes !== undefined) parts.push(formatSize(status.size_bytes));
  if (status.email) parts.push(emailNote(status));
  if (status.error) parts.push(`error: ${status.error.message}`);
  const detail = item.querySelector(".detail");
  detail.textContent = parts.join(" · ");
  detail.classList.toggle("error", Boolean(status.error));
  const link = item.querySelector(".pdf");
  if (status.pdf_url) {
    link.href = withKey(status.pdf_url);
    link.download = `${item.dataset.id}.pdf`;
    link.hidden = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const drop = $("drop");
  $("images").addEventListener("change", (e) => setFiles(e.target.files));
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => setFiles(e.dataTransfer.files));
  $("upload").addEventListener("submit", submit);
  $("api-key").value = localStorage.getItem("pdfmill-api-key") || "";
  $("api-key").addEventListener("change", () => localStorage.setItem("pdfmill-api-key", apiKey()));
  fetch("/mailbox", { method: "HEAD" }).then((r) => { $("mailbox-link").hidden = !r.ok; }).catch(() => {});
});
