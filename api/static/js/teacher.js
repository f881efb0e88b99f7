// Teacher page: question generation and review, the alert queue, the class heatmap.
import { Api, ApiError, el, forgetBoot, loadBoot, showSignedOut } from "./api.js";
import { exportAs } from "./exports.js";
import { loadInsights, setupInsights } from "./insights.js";
import { setupTextSize } from "./textsize.js";

const $ = (id) => document.getElementById(id);
const TYPES = {
  who: "Who", what: "What", where: "Where", when: "When", why: "Why",
  vocabulary: "Vocabulary", main_idea: "Main idea", sequence: "Sequence",
};
const ALERT_KINDS = {
  self_harm: ["Possible self-harm disclosure", "Follow your school's safeguarding procedure now."],
  abuse: ["Possible abuse disclosure", "Follow your school's safeguarding procedure now."],
  crisis: ["Student may be unsafe", "Check in with the student and your counselor today."],
  harm_to_others: ["Talk of harming others", "Follow your school's threat procedure."],
  bullying: ["Bullying reported", "Check in with the student."],
  distress: ["Student in distress", "Check in with the student."],
  repeated_failure: ["Struggling: repeated wrong answers", "A short conference or a reteach may help."],
  repeated_frustration: ["Signs of frustration", "Worth a quick check-in."],
};
const NEXT_KIND = { continue: "Keep practising", new: "Start", review: "Review" };
const state = { api: null, boot: null, passages: [], questions: [], passage: null, alertsTimer: null, classData: null };

// --- start-up ---------------------------------------------------------------------------

function start() {
  setupTextSize(0);
  const boot = loadBoot("teacher");
  if (!boot || boot.expired) {
    showSignedOut(boot && boot.expired
      ? "Your session has ended. Open readloom again from your course."
      : "This page opens from your course in your school's learning platform.");
    return;
  }
  state.boot = boot;
  state.api = new Api(boot.key, {
    onUnauthorized: () => {
      forgetBoot("teacher");
      showSignedOut("Your session has ended. Open readloom again from your course.");
    },
  });
  setupTabs();
  setupQuestions();
  setupAlerts();
  setupClass();
  setupInsights(state.api);
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus = true) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-alerts") loadAlerts();
    if (tab.id === "tab-class") loadClasses();
    if (tab.id === "tab-insights") loadInsights();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const last = tabs.length - 1;
      const to = { ArrowRight: i === last ? 0 : i + 1, ArrowLeft: i === 0 ? last : i - 1, Home: 0, End: last }[e.key];
      if (to !== undefined) {
        e.preventDefault();
        select(tabs[to]);
      }
    });
  });
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function friendly(err) {
  return err instanceof ApiError ? err.friendly() : "Something went wrong. Please try again.";
}

// --- questions --------------------------------------------------------------------------

async function setupQuestions() {
  const grade = $("grade");
  for (let g = 1; g <= 12; g++) grade.append(el("option", { value: g }, `Grade ${g}`));
  $("type-checks").append(...Object.entries(TYPES).map(([v, label]) =>
    el("label", {}, el("input", { type: "checkbox", name: "types", value: v }), label)));
  for (const radio of document.querySelectorAll('input[name="source"]')) {
    radio.addEventListener("change", () => {
      const paste = radio.value === "paste" && radio.checked;
      if (!radio.checked) return;
      $("paste-fields").hidden = !paste;
      $("library-field").hidden = paste;
    });
  }
  $("gen-form").addEventListener("submit", (e) => { e.preventDefault(); generate(); });
  $("approve-all").addEventListener("click", () => {
    state.questions.forEach((q) => { if (q.status === "review") q.status = "approved"; });
    renderQuestions();
  });
  for (const kind of ["print", "csv", "qti", "json"]) {
    $(`export-${kind}`).addEventListener("click", () => {
      const approved = state.questions.filter((q) => q.status === "approved");
      if (approved.length) exportAs(kind, state.passage, approved);
    });
  }
  try {
    const { body } = await state.api.get("/v1/passages");
    state.passages = body.items;
    $("passage-select").replaceChildren(...body.items.map((p) =>
      el("option", { value: p.passage_id }, `${p.title} (grade ${p.grade}, ${p.genre})`)));
  } catch (err) {
    $("gen-status").textContent = friendly(err);
  }
}

function formRequest() {
  const paste = document.querySelector('input[name="source"]:checked').value === "paste";
  const count = Number($("count").value);
  if (!Number.isInteger(count) || count < 1 || count > 50) return { error: "Choose between 1 and 50 questions.", field: "count" };
  const body = { count };
  if ($("grade").value) body.grade = Number($("grade").value);
  const types = [...document.querySelectorAll('input[name="types"]:checked')].map((c) => c.value);
  if (types.length) body.types = types;
  if (paste) {
    const text = $("paste-text").value.trim();
    if (text.split(/\s+/).length < 20) return { error: "Paste a passage of at least 20 words.", field: "paste-text" };
    body.text = text;
    if ($("paste-title").value.trim()) body.title = $("paste-title").value.trim();
  } else {
    if (!$("passage-select").value) return { error: "Choose a passage.", field: "passage-select" };
    body.passage_id = $("passage-select").value;
  }
  return { body, paste };
}

async function generate() {
  const status = $("gen-status");
  const req = formRequest();
  if (req.error) {
    status.textContent = req.error;
    $(req.field).setAttribute("aria-invalid", "true");
    $(req.field).focus();
    return;
  }
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  const button = $("generate");
  button.disabled = true;
  status.textContent = "Generating questions…";
  try {
    let { status: code, body } = await state.api.post("/v1/questions", req.body, { idempotent: true });
    for (let i = 0; code === 202 && i < 600; i++) { // a job: poll it (bounded: ~10 minutes)
      if (body.status === "succeeded") { body = body.result; break; }
      if (body.status === "failed") throw new ApiError(500, null);
      status.textContent = `Generating ${body.count} questions… (${body.status})`;
      await new Promise((r) => setTimeout(r, 1000));
      ({ body } = await state.api.get(`/v1/question-jobs/${encodeURIComponent(body.id)}`));
      if (body.status === "succeeded") { body = body.result; break; }
    }
    state.passage = req.paste
      ? { passage_id: body.passage_id, title: req.body.title || "My passage", text: req.body.text, grade: req.body.grade || null }
      : (await state.api.get(`/v1/passages/${encodeURIComponent(body.passage_id)}`)).body;
    state.questions = body.questions.map((q) => ({ ...q, status: "review" }));
    const asked = req.body.count;
    status.textContent = state.questions.length < asked
      ? `${state.questions.length} questions ready to review (this passage supports fewer than ${asked}).`
      : `${state.questions.length} questions ready to review.`;
    renderQuestions();
    $("review").hidden = false;
    $("review-heading").focus();
  } catch (err) {
    status.textContent = friendly(err);
  } finally {
    button.disabled = false;
  }
}

function field(label, id, value, onInput, multiline = true) {
  const input = multiline
    ? el("textarea", { id, rows: 2 }, value)
    : el("input", { id, value });
  input.addEventListener("input", () => onInput(input.value));
  return el("div", { class: "field" }, el("label", { for: id }, label), input);
}

function renderQuestions() {
  const list = $("question-list");
  list.replaceChildren(...state.questions.map((q, i) => {
    const n = i + 1;
    const statusText = { review: "To review", approved: "Approved", discarded: "Discarded" }[q.status];
    const approve = el("button", { type: "button", class: "btn btn-small", "aria-pressed": String(q.status === "approved") },
      q.status === "approved" ? "Approved ✓ (undo)" : "Approve");
    approve.addEventListener("click", () => { q.status = q.status === "approved" ? "review" : "approved"; rerender(n, "approve"); });
    const discard = el("button", { type: "button", class: "btn btn-small btn-danger" },
      q.status === "discarded" ? "Restore" : "Discard");
    discard.addEventListener("click", () => { q.status = q.status === "discarded" ? "review" : "discarded"; rerender(n, "discard"); });
    approve.dataset.action = "approve";
    discard.dataset.action = "discard";
    return el("li", { class: "qcard", dataset: { status: q.status, n: String(n) }, "aria-labelledby": `q${n}-h` },
      el("div", { class: "qcard-head" },
        el("h3", { id: `q${n}-h` }, `Question ${n}`),
        el("span", { class: "tag" }, TYPES[q.type] || q.type),
        el("span", { class: "tag" }, `skill: ${q.skill.replace(/_/g, " ")}`),
        el("span", { class: "tag tag-status" }, statusText),
        el("span", { class: "actions", style: null }, approve, discard)),
      el("div", { class: "qcard-body" },
        field("Question", `q${n}-question`, q.question, (v) => { q.question = v; }),
        field("Answer", `q${n}-answer`, q.answer, (v) => { q.answer = v; }, false),
        field("Evidence from the text", `q${n}-evidence`, q.evidence, (v) => { q.evidence = v; })));
  }));
  const approved = state.questions.filter((q) => q.status === "approved").length;
  const discarded = state.questions.filter((q) => q.status === "discarded").length;
  const review = state.questions.length - approved - discarded;
  $("review-summary").textContent = `${approved} approved · ${discarded} discarded · ${review} to review`;
  for (const b of document.querySelectorAll("[data-export]")) b.disabled = approved === 0;
  $("approve-all").disabled = review === 0;
}

function rerender(n, action) {
  renderQuestions();
  document.querySelector(`.qcard[data-n="${n}"] [data-action="${action}"]`)?.focus();
}

// --- alerts -----------------------------------------------------------------------------

function setupAlerts() {
  $("alert-status").addEventListener("change", loadAlerts);
  $("alerts-refresh").addEventListener("click", loadAlerts);
  refreshAlertCount();
  state.alertsTimer = setInterval(refreshAlertCount, 20_000); // the badge: within a minute
}

async function refreshAlertCount() {
  try {
    const { body } = await state.api.get("/v1/alerts?status=open&limit=500");
    const n = body.items.length;
    $("alert-count").textContent = n ? String(n) : "";
    $("alert-count").setAttribute("aria-label", n ? `${n} open` : "");
  } catch { /* the tab still works; the next refresh retries */ }
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return "just now";
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  if (s < 129600) return `${Math.round(s / 3600)} hours ago`;
  return new Date(iso).toLocaleDateString();
}

async function loadAlerts() {
  const msg = $("alert-status-msg");
  const list = $("alert-list");
  msg.textContent = "Loading alerts…";
  try {
    const { body } = await state.api.get(`/v1/alerts?status=${encodeURIComponent($("alert-status").value)}&limit=200`);
    list.replaceChildren(...body.items.map(renderAlert));
    markSeen(body.items.filter((a) => a.status !== "acknowledged").map((a) => a.id));
    msg.textContent = body.items.length ? `${body.items.length} alert${body.items.length === 1 ? "" : "s"}.` : "No alerts here.";
  } catch (err) {
    msg.textContent = friendly(err);
  }
}

// The teacher has the alerts in front of them: time to insight stops for these.
function markSeen(ids) {
  if (ids.length) state.api.post("/v1/alerts/seen", { alert_ids: ids.slice(0, 500) }).catch(() => {});
}

function renderAlert(a) {
  const [title, advice] = ALERT_KINDS[a.kind] || [a.kind.replace(/_/g, " "), "Check in with the student."];
  const details = [`Student ${a.student_id || "unknown"}`, ago(a.created_at)];
  if (a.repeats) details.push(`repeated ${a.repeats} more time${a.repeats === 1 ? "" : "s"}`);
  details.push(`confidence ${Math.round(a.confidence * 100)}%`);
  const li = el("li", { class: `alert sev-${a.severity}-row`, dataset: { status: a.status, id: a.id } },
    el("span", { class: `sev sev-${a.severity}` }, a.severity),
    el("div", {},
      el("p", { class: "alert-title" }, title),
      el("p", {}, details.join(" · ")),
      el("p", { class: "muted" }, a.status === "acknowledged" ? `Acknowledged ${a.acknowledged_at ? ago(a.acknowledged_at) : ""}` : advice)),
  );
  if (a.status !== "acknowledged") {
    const ack = el("button", { type: "button", class: "btn btn-small" }, "Acknowledge");
    ack.setAttribute("aria-label", `Acknowledge: ${title}, student ${a.student_id || "unknown"}`);
    ack.addEventListener("click", () => acknowledge(a, li, ack));
    li.append(ack);
  }
  return li;
}

async function acknowledge(a, li, button) {
  button.disabled = true;
  try {
    const { body } = await state.api.post(`/v1/alerts/${encodeURIComponent(a.id)}/acknowledge`, {});
    const fresh = renderAlert(body);
    li.replaceWith(fresh);
    $("alert-status-msg").textContent = "Alert acknowledged.";
    const next = document.querySelector("#alert-list button:not([disabled])");
    (next || $("alert-status")).focus();
    refreshAlertCount();
  } catch (err) {
    button.disabled = false;
    $("alert-status-msg").textContent = friendly(err);
  }
}

// --- class heatmap ----------------------------------------------------------------------

function setupClass() {
  $("class-select").addEventListener("change", loadHeatmap);
  $("class-refresh").addEventListener("click", loadHeatmap);
  $("all-skills").addEventListener("change", () => state.classData && renderHeatmap(state.classData));
}

async function loadClasses() {
  const select = $("class-select");
  if (select.options.length) return loadHeatmap();
  try {
    const { body } = await state.api.get("/v1/classes");
    if (!body.items.length) {
      $("class-status").textContent = "No classes yet: students appear here once they open readloom from your course.";
      return;
    }
    select.replaceChildren(...body.items.map((c) => el("option", { value: c.id }, `${c.name} (${plural(c.student_ids.length, "student")})`)));
    if (state.boot.class_id && body.items.some((c) => c.id === state.boot.class_id)) select.value = state.boot.class_id;
    await loadHeatmap();
  } catch (err) {
    $("class-status").textContent = friendly(err);
  }
}

async function loadHeatmap() {
  const id = $("class-select").value;
  if (!id) return;
  $("class-status").textContent = "Loading the class…";
  try {
    const { body } = await state.api.get(`/v1/classes/${encodeURIComponent(id)}/mastery`);
    state.classData = body;
    renderHeatmap(body);
  } catch (err) {
    $("class-status").textContent = friendly(err);
  }
}

function level(p, mastered) {
  if (p === undefined) return ["lvl-none", "–", "not practised"];
  const pct = Math.floor(p * 100); // never shows 95% for a skill not yet mastered
  if (p >= mastered) return ["lvl-mastered", `✓ ${pct}%`, "mastered"];
  if (p >= 0.7) return ["lvl-secure", `${pct}%`, "nearly there"];
  if (p >= 0.4) return ["lvl-developing", `${pct}%`, "developing"];
  return ["lvl-low", `${pct}%`, "needs help"];
}

function renderHeatmap(data) {
  const practised = new Set(data.students.flatMap((s) => Object.keys(s.mastery)));
  const shown = $("all-skills").checked ? data.skills : data.skills.filter((k) => practised.has(k.id));
  // Group columns by strand (strands in the order they are first taught), keeping the
  // teaching order within each strand.
  const strandOrder = [...new Set(data.skills.map((k) => k.strand))];
  const skills = [...shown].sort((a, b) => strandOrder.indexOf(a.strand) - strandOrder.indexOf(b.strand));
  const wrap = $("heatmap-wrap");
  const needHelp = data.students.filter((s) => Object.values(s.mastery).some((p) => p < 0.4)).length;
  $("class-status").textContent =
    `${plural(data.students.length, "student")} · ${plural(practised.size, "skill")} practised · `
    + `${needHelp} need${needHelp === 1 ? "s" : ""} help on at least one skill.`;
  if (!data.students.length) { wrap.hidden = true; return; }
  const strands = [];
  for (const k of skills) {
    const last = strands[strands.length - 1];
    if (last && last.strand === k.strand) last.n += 1; else strands.push({ strand: k.strand, n: 1 });
  }
  const strandName = (s) => s.replace(/_/g, " ");
  const table = el("table", { class: "heatmap" },
    el("caption", { class: "sr-only" }, `Mastery per skill for ${data.name}; last column: recommended next step`),
    el("thead", {},
      el("tr", {}, el("td", {}), ...strands.map((s) => el("th", { scope: "colgroup", colspan: s.n, class: "strand-head" }, strandName(s.strand))), el("td", {})),
      el("tr", {},
        el("th", { scope: "col" }, "Student"),
        ...skills.map((k) => el("th", { scope: "col", class: "skill-col", title: k.name }, k.name)),
        el("th", { scope: "col" }, "Recommended next step"))),
    el("tbody", {}, data.students.map((s) => el("tr", {},
      el("th", { scope: "row" }, s.student_id),
      ...skills.map((k) => {
        const [cls, text, words] = level(s.mastery[k.id], data.mastered_at);
        const tries = s.attempts[k.id] || 0;
        return el("td", { class: `cell ${cls}`, title: `${k.name}: ${words}${tries ? `, ${tries} answers` : ""}` }, text);
      }),
      el("td", { class: "next-step" }, nextStep(s.recommendation))))),
    el("tfoot", {}, el("tr", {},
      el("th", { scope: "row", title: "Average of the students who practised each skill" }, "Class average"),
      ...skills.map((k) => {
        const vals = data.students.map((s) => s.mastery[k.id]).filter((v) => v !== undefined);
        const [cls, text] = level(vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : undefined, data.mastered_at);
        return el("td", { class: `cell ${cls}` }, text);
      }),
      el("td", {}))),
  );
  wrap.replaceChildren(table);
  wrap.hidden = false;
}

function nextStep(rec) {
  if (!rec) return "–";
  const parts = [el("span", { class: "next-kind" }, `${NEXT_KIND[rec.kind] || rec.kind}: `), rec.skill_name];
  if (rec.passage_title) parts.push(`, with “${rec.passage_title}” (grade ${rec.passage_grade})`);
  return el("span", { title: rec.reason }, ...parts);
}

start();
