// The embedded Kombo Connect flow, as Kombo's guide describes it, against your own backend:
//   1. POST /api/connect/link      your backend → this project's POST /customers/{id}/connection-link
//   2. showKomboConnect(link)      Kombo's SDK opens Connect; resolves with an activation token
//   3. POST /api/connect/complete  your backend → POST /customers/{id}/connection-completion
// and the repairs of an integration that broke, the same way:
//   Reconnect     POST /api/connect/reconnect {handle} → …/integrations/{id}/reconnection-link
//   Finish setup  POST /api/connect/setup {handle}     → …/integrations/{id}/setup-link
// The browser never sees an integration id: only the short-lived token, and for each
// integration an opaque handle your backend maps back. Your backend (and this project) ask
// Kombo whose integration a token names, so nobody can attach another customer's.
import {
  showKomboConnect,
  KomboConnectCancelledError,
  KomboConnectAlreadyOpenError,
} from "@kombo-api/connect";

// Your backend knows who is signed in. The local stand-in (make dev) takes ?customer=
// instead, so you can try several customers; a real backend must not trust the browser.
const customer = new URLSearchParams(location.search).get("customer") || "42";
const query = `?customer=${encodeURIComponent(customer)}`;
const $ = (id) => document.getElementById(id);
$("customer").textContent = customer;

function say(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;
}

async function call(method, path, body) {
  const resp = await fetch(path + query, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let doc = {};
  try { doc = await resp.json(); } catch { /* not JSON: keep the status */ }
  return { status: resp.status, doc };
}

// What the completion route's answers mean to the person at the keyboard.
function completionError({ status, doc }) {
  const code = doc.error?.code;
  if (status === 403) return "This connection belongs to another account, so it was not saved.";
  if (code === "integration_deleted") return "This integration was deleted meanwhile. Please connect again.";
  if (code === "assigned_to_another_customer") return "This integration is linked to another account. Please contact support.";
  if (code === "invalid_token") return "The connection could not be confirmed (the confirmation expired). Please connect again.";
  if (status === 400) return `The request was refused: ${doc.error?.message ?? "bad request"}`;
  return "A temporary problem kept us from saving the connection. It will appear here shortly, or try again in a moment.";
}

// What an integration's state means to the person at the keyboard, and the repair offered.
const REASONS = {
  invalid: ["Its login no longer works: reconnect it.", "Reconnect", "/api/connect/reconnect"],
  setup_incomplete: ["Its setup is not finished.", "Finish setup", "/api/connect/setup"],
  final_sync_pending: ["Setting up: data arrives after the first full sync."],
  inactive: ["Paused."],
  qa_failed: ["Kombo is checking this connection; we will be in touch."],
};

const LOGIN_FAILING = ["Its login is failing: reconnect it before the data stops.", "Reconnect",
  "/api/connect/reconnect"];

async function showIntegrations() {
  const { status, doc } = await call("GET", "/api/integrations");
  const list = $("integrations");
  list.replaceChildren();
  const rows = status === 200 ? doc.integrations : [];
  for (const row of rows) {
    const li = document.createElement("li");
    li.append(`${row.tool} — ${row.state}`);
    // Kombo's earliest warning: its login failing, days before the integration turns INVALID
    // (and the data stops): the same reconnection, offered now.
    const loginFailing = (row.issues ?? []).some((i) => i.type === "integration.authentication_failed");
    const [text, label, path] = REASONS[row.reason]
      ?? (loginFailing ? LOGIN_FAILING : [row.usable ? "Working." : ""]);
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = text ? ` ${text}` : "";
    li.append(note);
    if (label) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "repair";
      button.textContent = label;
      button.addEventListener("click", () =>
        repair(label, path, row.handle).catch((e) => say(`Something went wrong: ${e.message}`, "error")));
      li.append(" ", button);
    }
    list.append(li);
  }
  if (!rows.length) list.innerHTML = "<li>None yet.</li>";
  return rows;
}

// Reconnect (or finish the setup of) an integration: the same integration comes back, and
// the list shows it working once Kombo tells this project (its integration-state-changed).
async function repair(label, path, handle) {
  $("notice").textContent = "";
  const link = await call("POST", path, { handle });
  if (link.status !== 200) {
    say(`${label} could not be started: ${link.doc.error?.message ?? link.status}`, "error");
    return;
  }
  try {
    say("Kombo Connect is open…");
    await showKomboConnect(link.doc.link);
  } catch (e) {
    if (e instanceof KomboConnectAlreadyOpenError) {
      $("notice").textContent = "Kombo Connect is already open: finish or close it first.";
      return;
    }
    if (e instanceof KomboConnectCancelledError) say("Cancelled: nothing changed.");
    else say(`Kombo Connect failed: ${e.message}`, "error");
    return;
  }
  say("Done: waiting for Kombo to confirm…");
  for (let i = 0; i < 20; i++) {
    const rows = await showIntegrations();
    const row = rows.find((r) => r.handle === handle);
    if (row?.usable) {
      say(`${label}: ${row.tool} works again`, "ok");
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  say("Kombo has not confirmed yet: the list updates when it does.");
}

async function connect() {
  $("notice").textContent = "";
  const link = await call("POST", "/api/connect/link", {});
  if (link.status !== 200) {
    say(`Kombo Connect could not be started: ${link.doc.error?.message ?? link.status}`, "error");
    return;
  }
  let token;
  try {
    say("Kombo Connect is open…");
    token = await showKomboConnect(link.doc.link);
  } catch (e) {
    if (e instanceof KomboConnectAlreadyOpenError) {
      // The flow already open goes on; only this second attempt is refused.
      $("notice").textContent = "Kombo Connect is already open: finish or close it first.";
      return;
    }
    if (e instanceof KomboConnectCancelledError) say("Cancelled: nothing was connected.");
    else say(`Kombo Connect failed: ${e.message}`, "error");
    return;
  }
  say("Saving the connection…");
  const done = await call("POST", "/api/connect/complete", { token });
  if (done.status === 200) {
    say(`Connected: ${done.doc.tool}`, "ok");
  } else {
    say(completionError(done), "error");
  }
  await showIntegrations();
}

$("connect").addEventListener("click", () => connect().catch((e) => say(`Something went wrong: ${e.message}`, "error")));
showIntegrations().catch(() => {});
