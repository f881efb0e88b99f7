// Teacher page, Insights tab: a class's figures from /v1/classes/{id}/insights, drawn as
// inline SVG with data tables; date range, CSV export, family-summary links.
import { ApiError, el } from "./api.js";
import { barChart, dataTable, lineChart, pct } from "./charts.js";
import { download } from "./exports.js";

const $ = (id) => document.getElementById(id);
const MAX_SKILLS = 6;
let api = null;

export function setupInsights(theApi) {
  api = theApi;
  const today = new Date();
  const from = new Date(today.getTime() - 27 * 86400e3);
  $("ins-from").value = from.toISOString().slice(0, 10);
  $("ins-to").value = today.toISOString().slice(0, 10);
  $("ins-form").addEventListener("submit", (e) => { e.preventDefault(); loadInsights(); });
  $("ins-class").addEventListener("change", loadInsights);
  $("ins-csv").addEventListener("click", exportCsv);
  $("fam-create").addEventListener("click", createFamilyLink);
}

function friendly(err) {
  if (err instanceof ApiError && err.body && err.body.detail) return err.body.detail;
  return "Something went wrong: try again in a moment.";
}

function query() {
  const p = new URLSearchParams();
  if ($("ins-from").value) p.set("from", $("ins-from").value);
  if ($("ins-to").value) p.set("to", $("ins-to").value);
  return p.toString();
}

export async function loadInsights() {
  const select = $("ins-class");
  const status = $("ins-status");
  try {
    if (!select.options.length) {
      const { body } = await api.get("/v1/classes");
      if (!body.items.length) { status.textContent = "No classes yet."; return; }
      select.replaceChildren(...body.items.map((c) => el("option", { value: c.id }, c.name)));
      state.classes = Object.fromEntries(body.items.map((c) => [c.id, c]));
    }
    status.textContent = "Loading insights…";
    const id = select.value;
    const t0 = performance.now();
    const { body } = await api.get(`/v1/classes/${encodeURIComponent(id)}/insights?${query()}`);
    render(body);
    renderFamilyStudents(state.classes[id]);
    status.textContent = `Insights for ${body.name}, ${body.range.from} to ${body.range.to}.`;
    document.body.dataset.insightsMs = String(Math.round(performance.now() - t0));
  } catch (err) {
    status.textContent = friendly(err);
  }
}
const state = { classes: {} };

function week(w) { return new Date(`${w}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" }); }
function when(iso) { return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "never"; }

function freshness(f) {
  const age = f.age_s < 90 ? "just now" : f.age_s < 5400 ? `${Math.round(f.age_s / 60)} minutes ago` : `${Math.round(f.age_s / 3600)} hours ago`;
  const text = `Computed ${age} (${when(f.computed_at)}); data through ${when(f.data_through)}.`;
  return el("p", { class: `freshness${f.stale ? " stale" : ""}`, dataset: { stale: String(f.stale) } },
    f.stale ? `Showing the last result: new figures could not be computed just now. ${text}` : text);
}

function section(id, title, f, ...body) {
  return el("section", { class: "ins-figure", id, "aria-labelledby": `${id}-h` },
    el("h3", { id: `${id}-h` }, title), freshness(f), ...body);
}

function render(d) {
  const f = d.freshness;
  const weeks = d.weeks.map(week);
  const skills = d.mastery_over_time.skills.slice(0, MAX_SKILLS);
  const growth = skills.map((s) => {
    const vals = s.points.map((p) => p.mean_p).filter((v) => v !== null);
    return vals.length ? `${s.name} ${pct(vals[0])} to ${pct(vals[vals.length - 1])}` : `${s.name}: no data`;
  });
  const mastery = lineChart({
    id: "chart-mastery", title: "Class mastery per skill, by week",
    summary: `Mean estimated mastery of the students who practised each skill. ${growth.join("; ")}.`,
    xLabels: weeks, series: skills.map((s) => ({ name: s.name, values: s.points.map((p) => p.mean_p) })),
  });
  const c = d.cohort_trends;
  const cohort = lineChart({
    id: "chart-cohort", title: "Accuracy by week: this class and its grade",
    summary: `Share of answers right each week, this class and all grade ${c.grades.join(", ")} students of the district (${c.grade_students}).`,
    xLabels: weeks, series: [
      { name: "This class", values: c.class.map((p) => p.accuracy) },
      { name: `Grade ${c.grades.join(", ")}`, values: c.grade.map((p) => p.accuracy) },
    ],
  });
  const e = d.engagement;
  const sessions = barChart({
    id: "chart-sessions", title: "Sessions per student, by week",
    summary: `Tutoring sessions per student each week: ${e.weekly.map((w, i) => `${weeks[i]} ${w.sessions_per_student}`).join(", ")}.`,
    xLabels: weeks, values: e.weekly.map((w) => w.sessions_per_student), format: (v) => v.toFixed(1),
  });
  const t = d.time_to_insight;
  const mins = (v) => (v === null ? "–" : v < 90 ? `${Math.round(v)} min` : `${(v / 60).toFixed(1)} h`);
  $("ins-body").replaceChildren(
    section("fig-tti", "Time to insight", f,
      el("dl", { class: "stat-cards" },
        el("div", {}, el("dt", {}, "Median, trouble to seen"), el("dd", { id: "tti-median" }, mins(t.median_minutes))),
        el("div", {}, el("dt", {}, "90th percentile"), el("dd", { id: "tti-p90" }, mins(t.p90_minutes))),
        el("div", {}, el("dt", {}, "Alerts (seen / all)"), el("dd", {}, `${t.seen} / ${t.alerts}`)),
        el("div", {}, el("dt", {}, "Notified within (p90)"), el("dd", {}, t.notify_p90_s === null ? "–" : `${t.notify_p90_s} s`))),
      el("p", { class: "help" }, "From a student's first wrong answer in a run to a teacher opening or acknowledging the alert.")),
    section("fig-mastery", "Mastery over time", f, mastery),
    section("fig-struggling", "Struggling now", f, d.struggling.length
      ? dataTable("Students struggling with a skill, and the evidence", ["Student", "Skill", "Answers", "Right", "Hints", "Right after a hint", "Mastery", "Last active"],
        d.struggling.slice(0, 15).map((r) => [r.student_id, r.skill_name, r.attempts, r.correct, r.hints, r.assisted, pct(r.p_mastery), when(r.last_activity)]))
      : el("p", {}, "No student is struggling with a skill in this range.")),
    section("fig-inactive", "Not practising lately", f, d.inactive.length
      ? dataTable("Students with no practice in the last 7 days", ["Student", "Last active", "Days since"],
        d.inactive.map((r) => [r.student_id, when(r.last_activity), r.days_since === null ? "never" : r.days_since]))
      : el("p", {}, "Everyone practised in the last week.")),
    section("fig-cohort", "Class and grade trends", f, cohort),
    section("fig-hardest", "Hardest questions and passages", f,
      dataTable("Hardest questions", ["Question", "Skill", "Answers", "Wrong"],
        d.hardest_questions.map((r) => [r.item_id ? `LMS item ${r.item_id}` : `${r.title}`, r.skill_name, r.attempts, pct(r.error_rate)])),
      dataTable("Hardest passages", ["Passage", "Answers", "Students", "Wrong"],
        d.hardest_passages.map((r) => [r.title, r.attempts, r.students, pct(r.error_rate)]))),
    section("fig-engagement", "Engagement", f, sessions,
      dataTable("Engagement by week", ["Week", "Sessions", "Per student", "Minutes per student", "Turns per session", "Active students"],
        e.weekly.map((w, i) => [weeks[i], w.sessions, w.sessions_per_student, w.minutes_per_student, w.turns_per_session ?? "–", w.active_students])),
      e.assignments.length
        ? dataTable("Assigned passages completed", ["Passage", "Assigned", "Completed", "Share"],
          e.assignments.map((a) => [a.title, when(a.assigned_at), `${a.completed} of ${a.students}`, pct(a.completion)]))
        : el("p", {}, "No passages assigned to this class yet.")),
  );
  $("ins-body").hidden = false;
}

async function exportCsv() {
  const id = $("ins-class").value;
  const resp = await fetch(`/v1/classes/${encodeURIComponent(id)}/insights.csv?${query()}`, { headers: api.headers({ Accept: "text/csv" }) });
  if (!resp.ok) { $("ins-status").textContent = "The CSV could not be made: try again."; return; }
  const name = (resp.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
  download(name ? name[1] : "insights.csv", await resp.blob());
}

function renderFamilyStudents(c) {
  if (!c) return;
  $("fam-student").replaceChildren(...c.student_ids.map((s) => el("option", { value: s }, s)));
}

async function createFamilyLink() {
  const cls = $("ins-class").value;
  const student = $("fam-student").value;
  const out = $("fam-result");
  try {
    const { body } = await api.post(`/v1/classes/${encodeURIComponent(cls)}/students/${encodeURIComponent(student)}/family-links`, { days: Number($("fam-days").value) || 14 });
    const revoke = el("button", { type: "button", class: "btn btn-small" }, "Withdraw link");
    revoke.addEventListener("click", async () => {
      try {
        await api.request("DELETE", `/v1/family-links/${encodeURIComponent(body.id)}`);
        out.replaceChildren(el("p", { role: "status" }, `The link for ${student} no longer works.`));
      } catch (err) {
        out.replaceChildren(el("p", { role: "alert" }, friendly(err)));
      }
    });
    out.replaceChildren(
      el("p", {}, `Link for ${student}'s family, valid until ${when(body.expires_at)}:`),
      el("input", { id: "fam-url", readonly: true, value: body.url, "aria-label": "Family summary link", class: "fam-url" }),
      revoke);
  } catch (err) {
    out.replaceChildren(el("p", {}, friendly(err)));
  }
}
