// The newsroom page. Plain script, no dependencies, served by the service itself.
//
// Everything the service returns is put on the page as text (textContent, text nodes,
// setAttribute on known attributes): never as HTML, so an article or a model answer that
// contains markup shows as the characters it is.
"use strict";

const KEY_STORE = "incident-summarizer.api-key";
const TEXT_STORE = "incident-summarizer.article.";

const FIELD_NAMES = {
  "casualties.killed": "killed",
  "casualties.injured": "injured",
  perpetrators: "responsibility",
};

const ATTRIBUTION = {
  confirmed: "confirmed",
  claimed: "claimed responsibility",
  suspected: "suspected",
  unknown: "not established",
};

const QUALIFIER = { at_least: "at least ", approximate: "about ", exact: "" };

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// DOM from text only

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function humanize(value) {
  return String(value).replace(/_/g, " ");
}

function announce(message) {
  const toast = $("toast");
  toast.textContent = message;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { toast.textContent = ""; }, 4000);
}

function storageGet(store, key) {
  try { return store.getItem(key); } catch { return null; }
}

function storageSet(store, key, value) {
  try { store.setItem(key, value); } catch { /* full or disabled: the page works without */ }
}

// ---------------------------------------------------------------------------------------
// The API: the key, errors in the contract's shape

class ApiError extends Error {
  constructor({ status, code, message, requestId, retryAfter }) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: a proxy's page, say */ }
  const error = body && typeof body === "object" ? body.error : null;
  return new ApiError({
    status: response.status,
    code: (error && error.code) || "http_" + response.status,
    message: (error && error.message) || `the service answered ${response.status} ${response.statusText}`.trim(),
    requestId: (error && error.request_id) || response.headers.get("X-Request-ID"),
    retryAfter: response.headers.get("Retry-After"),
  });
}

let keyPrompt = null;

function askForKey(reason) {
  // Calls made together share one prompt.
  if (keyPrompt) return keyPrompt;
  const dialog = $("key-dialog");
  $("key-reason").textContent = reason;
  $("key-input").value = "";
  keyPrompt = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      keyPrompt = null;
      const key = $("key-input").value.trim();
      resolve(dialog.returnValue === "ok" && key ? key : null);
    }, { once: true });
  });
  dialog.returnValue = "";
  dialog.showModal();
  $("key-input").focus();
  return keyPrompt;
}

function showKeyState() {
  $("forget-key").hidden = !storageGet(sessionStorage, KEY_STORE);
}

async function api(path, { method = "GET", body, signal } = {}) {
  for (;;) {
    const key = storageGet(sessionStorage, KEY_STORE);
    const headers = { Accept: "application/json" };
    if (key) headers["X-API-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError({
        status: 0,
        code: "network_error",
        message: "the service did not answer (" + err.message + ")",
      });
    }
    if (response.ok) return { data: await response.json(), response };
    const error = await errorFrom(response);
    if (response.status !== 401) throw error;
    const reason = key
      ? "The key in use was refused: " + error.message + "."
      : "This service needs an API key: " + error.message + ".";
    const given = await askForKey(reason);
    if (given === null) {
      try { sessionStorage.removeItem(KEY_STORE); } catch { /* ignore */ }
      showKeyState();
      throw error;
    }
    storageSet(sessionStorage, KEY_STORE, given);
    showKeyState();
  }
}

function showError(error) {
  const box = $("error");
  box.replaceChildren();
  if (!error) { box.hidden = true; return; }
  const details = [];
  if (error.code) details.push(h("code", null, error.code));
  if (error.status) details.push(` · HTTP ${error.status}`);
  if (error.retryAfter) details.push(` · try again in ${error.retryAfter} s`);
  if (error.requestId) details.push(" · request ", h("code", null, error.requestId));
  box.append(
    h("p", { class: "error-message" }, h("strong", null, "Error: "), error.message || String(error)),
    h("p", { class: "error-details" }, details),
  );
  box.hidden = false;
  box.focus();
}

// ---------------------------------------------------------------------------------------
// Copying

async function copyText(text, what) {
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); copied = true; } catch { /* fall back */ }
  }
  if (!copied) {
    // Plain http on a newsroom host is not a secure context: the old way still works there.
    const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    area.remove();
  }
  announce(copied ? `${what} copied` : `Could not copy the ${what.toLowerCase()}; select it and copy by hand`);
}

// ---------------------------------------------------------------------------------------
// The record as a card

function figure(label, value, qualifier, quote, markId) {
  const shown = value === null || value === undefined ? "not stated" : (QUALIFIER[qualifier] || "") + value;
  const content = [
    h("span", { class: "figure-label" }, label),
    h("span", { class: "figure-value" + (value === null || value === undefined ? " unknown" : "") }, shown),
  ];
  if (!quote) return h("div", { class: "figure", "data-figure": label.toLowerCase() }, content);
  const tipId = "tip-" + label.toLowerCase();
  return h("div", { class: "figure has-quote", "data-figure": label.toLowerCase() },
    h("button", {
      type: "button",
      class: "figure-button",
      "aria-describedby": tipId,
      title: markId ? "Show the quote in the article" : null,
      onclick: () => jumpTo(markId),
    }, content),
    h("span", { class: "tip", role: "tooltip", id: tipId }, "“", quote, "”"),
  );
}

function jumpTo(markId) {
  const mark = markId && document.getElementById(markId);
  if (!mark) return;
  mark.scrollIntoView({ block: "center", behavior: "smooth" });
  mark.focus({ preventScroll: true });
  mark.classList.add("flash");
  setTimeout(() => mark.classList.remove("flash"), 1600);
}

// Offsets from the service count Unicode code points (Python str indices); JavaScript
// strings count UTF-16 units, which differ after any character outside the BMP.
function codePointIndex(text) {
  const units = [];
  let unit = 0;
  for (const ch of text) {
    units.push(unit);
    unit += ch.length;
  }
  units.push(unit);
  return (point) => units[Math.max(0, Math.min(point, units.length - 1))];
}

function locate(text, evidence) {
  const toUnit = codePointIndex(text);
  return evidence.map((ev, index) => {
    let start = toUnit(ev.start);
    let end = toUnit(ev.end);
    if (text.slice(start, end) !== ev.quote) {
      start = text.indexOf(ev.quote);
      end = start + ev.quote.length;
    }
    return { ...ev, index, start, end, found: start >= 0 };
  });
}

function highlightedArticle(text, spans) {
  const found = spans.filter((s) => s.found && s.end > s.start);
  const cuts = new Set([0, text.length]);
  for (const s of found) { cuts.add(s.start); cuts.add(s.end); }
  const points = [...cuts].sort((a, b) => a - b);
  const body = h("div", { class: "article-text", id: "article-text" });
  const firstMark = new Set();
  for (let i = 0; i < points.length - 1; i++) {
    const [from, to] = [points[i], points[i + 1]];
    const piece = text.slice(from, to);
    const covering = found.filter((s) => s.start <= from && s.end >= to);
    if (!covering.length) { body.append(piece); continue; }
    const names = covering.map((s) => FIELD_NAMES[s.field] || s.field);
    const mark = h("mark", {
      tabindex: "-1",
      "data-field": covering.map((s) => s.field).join(" "),
      title: "Evidence for " + names.join(", "),
    }, piece);
    for (const s of covering) {
      if (!firstMark.has(s.index)) { firstMark.add(s.index); mark.id ||= "ev-" + s.index; }
    }
    body.append(mark);
  }
  return body;
}

function markIdFor(spans, field) {
  const span = spans.find((s) => s.field === field && s.found);
  return span ? "ev-" + span.index : null;
}

function quoteFor(evidence, field) {
  const ev = evidence.find((e) => e.field === field);
  return ev ? ev.quote : null;
}

function factRow(term, ...values) {
  const shown = values.flat().filter((v) => v !== null && v !== undefined && v !== "");
  return [h("dt", null, term), h("dd", null, shown.length ? shown : h("span", { class: "unknown" }, "not stated"))];
}

function whenText(date) {
  const said = date.text ? `“${date.text}”` : null;
  if (!date.iso) return said;
  const exact = date.precision && date.precision !== "day" ? ` (to the ${date.precision})` : "";
  return [h("time", { datetime: date.iso }, date.iso), exact, said ? ` · ${said}` : null];
}

function list(items) {
  if (!items || !items.length) return null;
  return h("ul", { class: "plain" }, items.map((item) => h("li", null, item)));
}

function renderCard(resource, articleText) {
  const incident = resource.incident;
  const evidence = incident.evidence || [];
  const spans = articleText ? locate(articleText, evidence) : evidence.map((ev, index) => ({ ...ev, index, found: false }));
  const toll = incident.casualties || {};
  const loc = incident.location || {};
  const date = incident.date || {};

  const kicker = [
    incident.is_incident ? (incident.category ? humanize(incident.category) : "incident") : "not an incident",
    date.iso || date.text,
    loc.country,
  ].filter(Boolean).join(" · ");

  const card = h("article", { class: "card", id: "card", "aria-labelledby": "card-headline", "data-id": resource.id });
  card.append(
    h("header", { class: "card-head" },
      h("p", { class: "kicker" }, kicker),
      h("h2", { id: "card-headline" }, incident.headline),
      h("div", { class: "tools" },
        h("button", { type: "button", id: "copy-headline", onclick: () => copyText(incident.headline, "Headline") }, "Copy headline"),
        h("button", { type: "button", id: "copy-json", onclick: () => copyText(JSON.stringify(resource, null, 2), "JSON") }, "Copy JSON"),
        h("a", { href: "#summary/" + encodeURIComponent(resource.id), class: "permalink" }, "Link to this summary"),
      ),
    ),
  );

  if (!incident.is_incident) {
    card.append(h("p", { class: "notice" },
      "The article reports no specific violent event, accident or disaster, so the record has no toll, place or date."));
  } else {
    const figures = h("div", { class: "figures", id: "toll" },
      figure("Killed", toll.killed, toll.qualifier, quoteFor(evidence, "casualties.killed"), markIdFor(spans, "casualties.killed")),
      figure("Injured", toll.injured, null, quoteFor(evidence, "casualties.injured"), markIdFor(spans, "casualties.injured")),
      figure("Missing", toll.missing, null, null, null),
    );
    const groups = toll.groups || [];
    const groupTable = groups.length ? h("div", { class: "scroll" },
      h("table", { class: "groups", id: "groups" },
        h("caption", null, "By group"),
        h("thead", null, h("tr", null, ["Group", "Nationality", "Killed", "Injured"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, groups.map((g) => h("tr", null,
          h("th", { scope: "row" }, g.group),
          h("td", null, g.nationality_code || "—"),
          h("td", { class: "num" }, g.killed ?? "—"),
          h("td", { class: "num" }, g.injured ?? "—"),
        ))),
      )) : null;
    card.append(h("section", { class: "toll", "aria-labelledby": "toll-title" },
      h("h3", { id: "toll-title" }, "Toll"), figures, groupTable));

    const perpetrators = incident.perpetrators || [];
    const perpQuote = quoteFor(evidence, "perpetrators");
    const responsible = perpetrators.map((p) =>
      h("span", { class: "perp" }, p.name === "unknown" ? "No one named" : p.name, " ",
        h("span", { class: "badge attribution-" + p.attribution }, ATTRIBUTION[p.attribution] || p.attribution)));
    const perpMark = markIdFor(spans, "perpetrators");
    card.append(h("section", { class: "facts", "aria-labelledby": "facts-title" },
      h("h3", { id: "facts-title" }, "What, where, when, who"),
      h("dl", null,
        factRow("Where", [loc.place, loc.region, loc.country].filter(Boolean).join(", "),
          loc.country_code ? h("span", { class: "badge" }, loc.country_code) : null),
        factRow("When", whenText(date)),
        factRow("Category", incident.category ? humanize(incident.category) : null),
        factRow("Responsible", perpetrators.length ? list(responsible) : "no one named",
          perpQuote ? h("blockquote", { class: "quote" }, perpMark
            ? h("button", { type: "button", class: "linklike", onclick: () => jumpTo(perpMark) }, "“", perpQuote, "”")
            : ["“", perpQuote, "”"]) : null),
        factRow("Weapons or cause", list(incident.weapons)),
        factRow("Responses", list(incident.responses) || "none reported"),
      ),
    ));
  }

  card.append(h("section", { class: "summary", "aria-labelledby": "summary-title" },
    h("h3", { id: "summary-title" }, "Summary"),
    h("p", { id: "summary-text" }, incident.summary)));

  if (resource.warnings && resource.warnings.length) {
    card.append(h("section", { class: "warnings", "aria-labelledby": "warnings-title" },
      h("h3", { id: "warnings-title" }, "Corrected by the service"), list(resource.warnings)));
  }

  const missing = spans.filter((s) => !s.found);
  card.append(h("section", { class: "article", "aria-labelledby": "article-title" },
    h("h3", { id: "article-title" }, "Article"),
    resource.title ? h("p", { class: "article-title" }, resource.title) : null,
    articleText ? [
      h("p", { class: "hint" }, evidence.length ? "Highlighted: the sentences the figures rest on." : "The record quotes no evidence."),
      highlightedArticle(articleText, spans),
      missing.length ? h("p", { class: "hint" }, "Quotes not found in this text: ", missing.map((s) => `“${s.quote}” `)) : null,
    ] : [
      h("p", { class: "hint" }, "The article text of this record is not stored. Its evidence quotes:"),
      evidence.length
        ? h("ul", { class: "plain quotes" }, evidence.map((ev) => h("li", null,
          h("span", { class: "badge" }, FIELD_NAMES[ev.field] || ev.field), " ",
          h("q", null, ev.quote))))
        : h("p", null, "None."),
    ],
  ));

  const usage = resource.usage || {};
  const source = safeLink(resource.source_url);
  card.append(h("footer", { class: "meta" },
    h("dl", null,
      h("dt", null, "Summary id"), h("dd", null, h("code", null, resource.id)),
      h("dt", null, "Made"), h("dd", null, resource.created_at, resource.cached ? " (stored)" : ""),
      h("dt", null, "Model"), h("dd", null, resource.model,
        usage.attempts ? `, ${usage.attempts} answer${usage.attempts === 1 ? "" : "s"}` : "",
        usage.latency_ms ? `, ${(usage.latency_ms / 1000).toFixed(1)} s` : ""),
      resource.published ? [h("dt", null, "Published"), h("dd", null, resource.published)] : null,
      resource.source_url ? [h("dt", null, "Source"), h("dd", null, source || resource.source_url)] : null,
    )));
  return card;
}

function safeLink(url) {
  if (!url) return null;
  let parsed;
  try { parsed = new URL(url); } catch { return null; }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  return h("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank" }, url);
}

function showCard(resource, articleText) {
  $("card-slot").replaceChildren(renderCard(resource, articleText));
}

// ---------------------------------------------------------------------------------------
// Summarize

let pending = null;

function setBusy(busy) {
  const form = $("article-form");
  form.setAttribute("aria-busy", busy ? "true" : "false");
  $("summarize").disabled = busy;
  $("stop").hidden = !busy;
  $("progress").hidden = !busy;
}

function startProgress() {
  const started = Date.now();
  const text = $("progress-text");
  const tick = () => {
    const seconds = Math.round((Date.now() - started) / 1000);
    text.textContent = `Summarizing… ${seconds} s. The model reads the article and checks every figure against it; this can take a minute or more.`;
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

async function summarize(event) {
  event.preventDefault();
  if (pending) return;
  // A link, the text, or both: the service's 422 says what is wrong, in the contract's words
  // (blank text too).
  const text = $("f-text").value;
  const link = $("f-url").value.trim();
  const body = link ? { url: link } : { text };
  if (link && text.trim()) body.text = text;
  const title = $("f-title").value.trim();
  const published = $("f-published").value;
  const source = $("f-source").value.trim();
  if (title) body.title = title;
  if (published) body.published = published;
  if (source) body.source_url = source;
  const path = "/v1/summaries" + ($("f-refresh").checked ? "?refresh=true" : "");

  showError(null);
  $("card-slot").replaceChildren();
  const controller = new AbortController();
  pending = controller;
  setBusy(true);
  const stopProgress = startProgress();
  try {
    const { data } = await api(path, { method: "POST", body, signal: controller.signal });
    // From a link, the text the quotes point into is the one the service extracted.
    const shown = link ? await storedText(data.id) : text;
    if (shown !== null) storageSet(sessionStorage, TEXT_STORE + data.id, shown);
    showCard(data, shown);
    announce(data.cached ? "Summary ready (already stored)" : "Summary ready");
    $("card-headline").setAttribute("tabindex", "-1");
    $("card-headline").focus();
  } catch (err) {
    if (err.name === "AbortError") {
      showError({ message: "stopped waiting; the service still finishes and stores this summary, so it will appear under Stored summaries" });
    } else {
      showError(err);
    }
  } finally {
    stopProgress();
    pending = null;
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------
// Stored summaries

let categoriesLoaded = false;

async function loadCategories() {
  if (categoriesLoaded) return;
  const { data } = await api("/v1/schema");
  const schema = data.schema || {};
  const resolve = (node) => {
    if (!node) return null;
    if (node.enum) return node.enum;
    if (node.$ref) return resolve((schema.$defs || {})[node.$ref.split("/").pop()]);
    for (const option of node.anyOf || []) {
      const found = resolve(option);
      if (found) return found;
    }
    return null;
  };
  const values = resolve((schema.properties || {}).category) || [];
  const select = $("q-category");
  const chosen = select.value;
  for (const value of values) select.append(h("option", { value }, humanize(value)));
  select.value = chosen;
  categoriesLoaded = true;
}

const FILTERS = ["q", "country_code", "category", "is_incident", "since", "until"];

function filtersFromForm() {
  const params = new URLSearchParams();
  const form = $("filter-form");
  for (const name of FILTERS) {
    let value = form.elements[name].value.trim();
    if (name === "country_code") value = value.toUpperCase();
    if (value) params.set(name, value);
  }
  return params;
}

function fillForm(params) {
  const form = $("filter-form");
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
}

function tollLine(incident) {
  const t = incident.casualties || {};
  const parts = [];
  if (t.killed !== null && t.killed !== undefined) parts.push(`${QUALIFIER[t.qualifier] || ""}${t.killed} killed`);
  if (t.injured !== null && t.injured !== undefined) parts.push(`${t.injured} injured`);
  if (t.missing !== null && t.missing !== undefined) parts.push(`${t.missing} missing`);
  return parts.join(", ");
}

function resultItem(resource) {
  const incident = resource.incident;
  const loc = incident.location || {};
  const meta = [
    (incident.date && incident.date.iso) || "date unknown",
    loc.country ? loc.country + (loc.country_code ? ` (${loc.country_code})` : "") : null,
    incident.is_incident ? (incident.category ? humanize(incident.category) : null) : "not an incident",
    tollLine(incident),
  ].filter(Boolean).join(" · ");
  return h("li", { class: "result", "data-id": resource.id, "data-country": loc.country_code || "" },
    h("a", { href: "#summary/" + encodeURIComponent(resource.id), class: "result-headline" }, incident.headline),
    h("p", { class: "result-meta" }, meta),
  );
}

let listState = { params: null, cursor: null, token: 0 };

async function runSearch(params, append) {
  const token = ++listState.token;
  const query = new URLSearchParams(params);
  query.set("limit", "20");
  if (append && listState.cursor) query.set("cursor", listState.cursor);
  const status = $("list-status");
  status.textContent = "Loading…";
  $("more").hidden = true;
  showError(null);
  try {
    const { data } = await api("/v1/summaries?" + query.toString());
    if (token !== listState.token) return;  // a newer search has started
    const results = $("results");
    if (!append) results.replaceChildren();
    results.append(...data.items.map(resultItem));
    listState.cursor = data.next_cursor;
    $("more").hidden = !data.next_cursor;
    const count = results.children.length;
    const filtered = [...params.keys()].length > 0;
    status.textContent = count
      ? `${count} summar${count === 1 ? "y" : "ies"}${data.next_cursor ? " so far" : ""}${filtered ? " matching the filters" : ""}.`
      : filtered ? "No stored summary matches these filters." : "No summaries stored yet.";
  } catch (err) {
    if (token !== listState.token) return;
    status.textContent = "";
    showError(err);
  }
}

// The text a stored summary was made from (its evidence offsets point into it), or null.
async function storedText(id) {
  try {
    const { data } = await api("/v1/summaries/" + encodeURIComponent(id) + "/article");
    return typeof data.text === "string" ? data.text : null;
  } catch {
    return null;
  }
}

async function openSummary(id) {
  $("card-slot").replaceChildren();
  showError(null);
  const status = h("p", { class: "status", role: "status" }, "Loading…");
  $("card-slot").append(status);
  try {
    const { data } = await api("/v1/summaries/" + encodeURIComponent(id));
    showCard(data, storageGet(sessionStorage, TEXT_STORE + data.id) ?? await storedText(data.id));
    $("card-headline").setAttribute("tabindex", "-1");
    $("card-headline").focus();
  } catch (err) {
    status.remove();
    showError(err);
  }
}

// ---------------------------------------------------------------------------------------
// Views, from the address's #fragment so Back and bookmarks work

// ---------------------------------------------------------------------------------------
// Batches: progress and failed articles

let batchTimer = null;

function batchItem(batch) {
  const c = batch.counts;
  const finished = c.done + c.failed + c.cancelled;
  const parts = [
    `${c.done.toLocaleString()} of ${c.total.toLocaleString()} done`,
    c.cached ? `${c.cached.toLocaleString()} from the store` : null,
    c.failed ? `${c.failed.toLocaleString()} failed` : null,
    c.cancelled ? `${c.cancelled.toLocaleString()} cancelled` : null,
    batch.items_per_second ? `${batch.items_per_second.toFixed(2)}/s` : null,
    batch.eta_seconds !== null ? `about ${Math.ceil(batch.eta_seconds)} s left` : null,
  ].filter(Boolean).join(" · ");
  const failed = h("ul", { class: "failed-items" });
  const details = c.failed
    ? h("details", { ontoggle: (event) => event.target.open && loadFailed(batch.id, failed) },
        h("summary", {}, "Failed articles"), failed)
    : null;
  return h("li", { class: "result batch", "data-id": batch.id, "data-status": batch.status },
    h("p", { class: "result-headline" }, `${humanize(batch.status)} · batch ${batch.id.slice(0, 8)}`,
      batch.created_at ? ` · ${batch.created_at.replace("T", " ").replace("Z", " UTC")}` : ""),
    h("progress", { max: c.total, value: finished, "aria-label": "Articles answered" }),
    h("p", { class: "result-meta batch-counts" }, parts),
    details,
  );
}

async function loadFailed(batchId, list) {
  try {
    const { data } = await api(`/v1/batches/${encodeURIComponent(batchId)}/items?status=failed&limit=100`);
    list.replaceChildren(...data.items.map((item) => h("li", {},
      `${item.external_id || "#" + item.index}: ${item.error.code}: ${item.error.message}`)));
  } catch (err) {
    showError(err);
  }
}

async function loadBatches() {
  clearTimeout(batchTimer);
  const status = $("batches-status");
  try {
    const { data } = await api("/v1/batches?limit=20");
    if ($("view-batches").hidden) return;
    const open = new Set([...$("batches").querySelectorAll("details[open]")].map(
      (d) => d.closest("li").dataset.id));
    $("batches").replaceChildren(...data.items.map(batchItem));
    for (const li of $("batches").children) {
      if (open.has(li.dataset.id)) li.querySelector("details").open = true;
    }
    status.textContent = data.items.length ? "" : "No batches yet.";
    if (data.items.some((b) => b.status !== "done" && b.status !== "cancelled")) {
      batchTimer = setTimeout(loadBatches, 2000);
    }
  } catch (err) {
    status.textContent = "";
    showError(err);
  }
}

let lastNewCard = null;

function showView(name) {
  for (const view of ["new", "list", "summary", "batches"]) $("view-" + view).hidden = view !== name;
  for (const nav of ["nav-new", "nav-list", "nav-batches"]) $(nav).removeAttribute("aria-current");
  const nav = { new: "nav-new", batches: "nav-batches" }[name] || "nav-list";
  $(nav).setAttribute("aria-current", "page");
}

function route() {
  const hash = location.hash || "#new";
  const slot = $("card-slot");
  if (!$("view-new").hidden && slot.firstChild) lastNewCard = slot.firstChild;
  if (hash.startsWith("#list")) {
    showView("list");
    slot.replaceChildren();
    const params = new URLSearchParams(hash.slice("#list".length).replace(/^\?/, ""));
    fillForm(params);
    loadCategories().then(() => fillForm(params)).catch(() => { /* the select stays "Any" */ });
    runSearch(params, false);
  } else if (hash === "#batches") {
    showView("batches");
    slot.replaceChildren();
    showError(null);
    loadBatches();
  } else if (hash.startsWith("#summary/")) {
    showView("summary");
    openSummary(decodeURIComponent(hash.slice("#summary/".length)));
  } else if (hash === "#new" || !location.hash) {
    showView("new");
    showError(null);
    slot.replaceChildren(...(lastNewCard ? [lastNewCard] : []));
  }
  // Any other fragment (the skip link's #main) is an in-page jump, not a view.
}

function init() {
  $("article-form").addEventListener("submit", summarize);
  $("stop").addEventListener("click", () => pending && pending.abort());
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = filtersFromForm();
    const hash = "#list" + (params.toString() ? "?" + params.toString() : "");
    if (location.hash === hash) runSearch(params, false);
    else location.hash = hash;
  });
  $("clear-filters").addEventListener("click", () => {
    fillForm(new URLSearchParams());
    if (location.hash === "#list") runSearch(new URLSearchParams(), false);
    else location.hash = "#list";
  });
  $("more").addEventListener("click", () => runSearch(filtersFromForm(), true));
  $("forget-key").addEventListener("click", () => {
    try { sessionStorage.removeItem(KEY_STORE); } catch { /* ignore */ }
    showKeyState();
    announce("API key forgotten");
  });
  window.addEventListener("hashchange", route);
  showKeyState();
  route();
}

init();
