// The rep inbox: asks the router's rep API with the rep's token (sessionStorage of this tab,
// a bearer header, never a URL). Everything shown goes in as text, never as HTML.
"use strict";

const KEY = "handoff.inbox.token";
const $ = (id) => document.getElementById(id);
let me = null;

function token() { return sessionStorage.getItem(KEY); }

function problem(text) {
  const box = $("problem");
  box.textContent = text || "";
  box.classList.toggle("hidden", !text);
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (answer.status === 401) { signOut("Your token was not accepted: sign in again."); throw new Error("401"); }
  const data = answer.headers.get("content-type")?.includes("json") ? await answer.json() : null;
  if (!answer.ok) throw new Error((data && (data.detail || data.title)) || ("HTTP " + answer.status));
  return data;
}

function signOut(text) {
  sessionStorage.removeItem(KEY);
  me = null;
  $("login").classList.remove("hidden");
  $("inbox").classList.add("hidden");
  for (const id of ["refresh", "signout"]) $(id).classList.add("hidden");
  $("who").textContent = "";
  $("away-state").textContent = "";
  problem(text);
}

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { timeZone: me.timezone, dateStyle: "medium", timeStyle: "short" })
    + " (" + me.timezone + ")";
}

function options(select, values) {
  select.replaceChildren(...values.map((value) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value.replaceAll("_", " ");
    return option;
  }));
}

function why(explanation) {
  if (!explanation) return "";
  const skipped = (explanation.skipped || []).map((s) => s.rep_id + " (" + s.reason + ")").join(", ");
  return "Why you: " + (explanation.summary || ("rule " + explanation.rule_id))
    + (skipped ? "; passed over: " + skipped : "");
}

function card(item) {
  const node = $("card").content.firstElementChild.cloneNode(true);
  const lead = item.lead || {};
  const company = lead.company || {};
  node.dataset.assignment = item.assignment_id;
  node.querySelector(".name").textContent = [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.email || item.lead_id;
  node.querySelector(".title").textContent = [lead.title, lead.email].filter(Boolean).join(" · ");
  node.querySelector(".company").textContent = [company.name || company.domain, company.employees && (company.employees + " employees"), lead.country].filter(Boolean).join(" · ");
  node.querySelector(".why").textContent = why(item.explanation);
  node.querySelector(".due").textContent = item.status === "pending" && item.sla_due_at ? "Accept by " + when(item.sla_due_at) : "Assigned " + when(item.assigned_at);
  const status = item.status + (item.reason ? " (" + item.reason + ")" : "") + (item.qualification ? ", " + item.qualification.outcome : "");
  node.querySelector(".status").textContent = "Status: " + status;
  const actions = node.querySelector(".actions");
  const qualify = node.querySelector(".qualify");
  actions.classList.toggle("hidden", item.status !== "pending");
  qualify.classList.toggle("hidden", item.status !== "accepted" || Boolean(item.qualification));
  options(node.querySelector(".reason"), me.rejection_reasons);
  options(node.querySelector(".qualify-reason"), me.disqualification_reasons);
  node.querySelector(".accept").addEventListener("click", () => act(item, "accept", {}));
  node.querySelector(".reject").addEventListener("click", () => act(item, "reject", {
    reason: node.querySelector(".reason").value,
    note: node.querySelector(".note").value || null,
  }));
  node.querySelector(".qualify-go").addEventListener("click", () => {
    const outcome = node.querySelector(".qualify-outcome").value;
    act(item, "qualify", outcome === "sql" ? { outcome } : { outcome, reason: node.querySelector(".qualify-reason").value });
  });
  return node;
}

async function act(item, verb, body) {
  try {
    await api("POST", "/v1/assignments/" + encodeURIComponent(item.assignment_id) + "/" + verb, body);
    problem("");
  } catch (error) {
    if (error.message !== "401") problem(verb + " failed: " + error.message);
  }
  await load();
}

function fill(id, items, empty) {
  const box = $(id);
  box.replaceChildren(...items.map(card));
  if (!items.length) {
    const note = document.createElement("p");
    note.className = "empty";
    note.textContent = empty;
    box.append(note);
  }
}

async function load() {
  try {
    me = await api("GET", "/v1/reps/me");
    const [pending, all] = await Promise.all([
      api("GET", "/v1/reps/me/assignments?status=pending&limit=200"),
      api("GET", "/v1/reps/me/assignments?limit=50"),
    ]);
    $("login").classList.add("hidden");
    $("inbox").classList.remove("hidden");
    for (const id of ["refresh", "signout"]) $(id).classList.remove("hidden");
    $("who").textContent = (me.name || me.rep_id) + " · " + me.timezone;
    $("away-state").textContent = me.available ? "Available" : "Away" + (me.unavailable_until ? " until " + when(me.unavailable_until) : "") + (me.unavailable_reason ? " (" + me.unavailable_reason + ")" : "");
    $("pending-count").textContent = "(" + pending.length + ")";
    fill("pending", pending, "Nothing waiting for you.");
    fill("recent", all.filter((item) => item.status !== "pending"), "No decided leads yet.");
  } catch (error) {
    if (error.message !== "401") problem("Could not load your inbox: " + error.message);
  }
}

async function setAway(available) {
  const value = $("away-until").value;
  const body = { available };
  if (!available) {
    if (!value) { problem("Choose until when you are away."); return; }
    body.until = new Date(value).toISOString();
  }
  try {
    await api("PUT", "/v1/reps/" + encodeURIComponent(me.rep_id) + "/availability", body);
    problem("");
  } catch (error) {
    if (error.message !== "401") problem("Could not set availability: " + error.message);
  }
  await load();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    load();
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("refresh").addEventListener("click", load);
  $("away-form").addEventListener("submit", (event) => { event.preventDefault(); setAway(false); });
  $("back").addEventListener("click", () => setAway(true));
  if (token()) load();
});
