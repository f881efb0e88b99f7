// Student page: the passage on one side, the tutor chat on the other.
import { Api, ApiError, el, forgetBoot, loadBoot, passageParagraphs, showSignedOut } from "./api.js";
import { setupTextSize } from "./textsize.js";

// How each pedagogical move looks: a badge with words, and a distinct colour and border,
// so hints and alternate explanations differ without relying on colour alone.
const MOVES = {
  hint: { label: "Hint", cls: "move-hint" },
  alternate_explanation: { label: "Another way to see it", cls: "move-alternate" },
  affirm: { label: "Well done", cls: "move-affirm" },
  ask_question: { label: "Question", cls: "move-question" },
  probe: { label: "Think deeper", cls: "move-probe" },
  redirect: { label: "Back to the story", cls: "move-redirect" },
  encourage: { label: "Keep going", cls: "move-encourage" },
  safety: { label: "Important", cls: "move-safety" },
  ask_to_choose: { label: "Pick one", cls: "move-probe" },
  answer_question: { label: "Good question", cls: "move-question" },
  worked_explanation: { label: "Let's solve it together", cls: "move-alternate" },
};

const $ = (id) => document.getElementById(id);
const state = { api: null, boot: null, session: null, passage: null, busy: false };

function sessionKey() {
  return `readloom.student.session.${state.boot.key.slice(0, 16)}`;
}

async function start() {
  setupTextSize(1);
  const boot = loadBoot("student");
  if (!boot || boot.expired) {
    showSignedOut(boot && boot.expired
      ? "Your reading time has ended. Open readloom again from your class page to keep going."
      : "This page opens from your class page in your school's learning platform.");
    return;
  }
  state.boot = boot;
  state.api = new Api(boot.key, {
    onUnauthorized: () => {
      forgetBoot("student");
      showSignedOut("Your sign-in has ended. Please open readloom again from your class page.");
    },
  });
  wireChat();
  try {
    const saved = sessionStorage.getItem(sessionKey());
    if (saved) return await openSession(saved);
    if (boot.passage_id) return await openPassage(boot.passage_id);
    await showPicker();
  } catch (err) {
    showLoadError(err);
  }
}

function showLoadError(err) {
  $("passage-loading").textContent = err instanceof ApiError ? err.friendly() : "Something went wrong.";
  $("passage-loading").setAttribute("role", "alert");
}

async function showPicker() {
  const query = state.boot.grade ? `?grade=${encodeURIComponent(state.boot.grade)}` : "";
  let { body } = await state.api.get(`/v1/passages${query}`);
  if (!body.items.length && query) ({ body } = await state.api.get("/v1/passages"));
  const list = $("passage-list");
  list.replaceChildren(
    ...body.items.map((p) =>
      el("li", {},
        el("button", { type: "button", class: "passage-choice", onclick: () => openPassage(p.passage_id).catch(showLoadError) },
          el("span", { class: "passage-choice-title" }, p.title),
          el("span", { class: "passage-choice-meta" }, `Grade ${p.grade} · ${p.genre}`))),
    ),
  );
  $("passage-loading").hidden = true;
  $("passage-picker").hidden = false;
  $("passage").hidden = true;
  document.querySelector("main").dataset.state = "picking";
  $("chat-fields").disabled = true;
}

async function openPassage(passageId) {
  $("passage-picker").hidden = true;
  $("passage-loading").hidden = false;
  // Pick up where the student left off on this passage, if they were here before.
  const { body } = await state.api.get("/v1/sessions?limit=50");
  const earlier = body.items.find((s) => s.passage_id === passageId);
  if (earlier) return openSession(earlier.id);
  const grade = state.boot.grade || (await state.api.get(`/v1/passages/${encodeURIComponent(passageId)}`)).body.grade;
  // open: the tutor greets and asks its first question before the student types anything
  const created = await state.api.post("/v1/sessions", { passage_id: passageId, grade, open: true }, { idempotent: true });
  return openSession(created.body.id, true, created.body.opening);
}

async function openSession(sessionId, fresh = false, opening = null) {
  const { body: session } = await state.api.get(`/v1/sessions/${encodeURIComponent(sessionId)}`);
  state.session = session;
  sessionStorage.setItem(sessionKey(), session.id);
  const { body: passage } = await state.api.get(`/v1/passages/${encodeURIComponent(session.passage_id)}`);
  state.passage = passage;
  renderPassage(passage);
  $("chat-log").replaceChildren(el("li", { class: "msg msg-tutor msg-welcome" },
    el("p", { class: "msg-who" }, "Tutor"),
    el("p", { class: "msg-text" },
      `Hi! Read "${passage.title}", then tell me when you're ready. I'll ask you questions about it, and you can ask me for help any time.`)));
  if (opening) {
    $("chat-log").replaceChildren();
    finishTutorMessage(addTutorMessage(), opening, { announce: true });
    setQuestion(opening.current_question);
  }
  if (!fresh && session.message_count) {
    const { body: history } = await state.api.get(`/v1/sessions/${encodeURIComponent(session.id)}/messages`);
    if (history.items.length && !history.items[0].text) $("chat-log").replaceChildren();
    for (const item of history.items) {
      if (item.text) addStudentMessage(item.text); // the tutor's opening has no student text
      finishTutorMessage(addTutorMessage(), { reply: item.reply, move: item.move }, { announce: false });
    }
  }
  document.querySelector("main").dataset.state = "ready";
  $("chat-fields").disabled = false;
  updateChips();
  scrollChat();
}

function renderPassage(p) {
  $("passage-heading").textContent = p.title;
  $("passage-meta").textContent = `Grade ${p.grade} · ${p.genre}`;
  $("passage-text").replaceChildren(...passageParagraphs(p.text));
  $("topbar-title").textContent = p.title;
  document.title = `${p.title} · readloom`;
  $("passage-loading").hidden = true;
  $("passage").hidden = false;
  if (!state.boot.passage_id) {
    const again = el("button", { type: "button", class: "btn btn-quiet", id: "choose-another" }, "Choose another story");
    again.addEventListener("click", () => {
      sessionStorage.removeItem(sessionKey());
      $("chat-log").replaceChildren();
      setQuestion(null);
      showPicker().then(() => $("picker-heading").focus()).catch(showLoadError);
    });
    $("passage-meta").after(again);
  }
}

// --- chat ------------------------------------------------------------------------------

function wireChat() {
  const form = $("chat-form");
  const box = $("message");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(box.value);
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send(box.value);
    }
  });
  for (const chip of document.querySelectorAll(".chip[data-say]")) {
    chip.addEventListener("click", () => send(chip.dataset.say));
  }
}

function addStudentMessage(text) {
  const li = el("li", { class: "msg msg-student" },
    el("p", { class: "msg-who" }, "You"), el("p", { class: "msg-text" }, text));
  $("chat-log").append(li);
  return li;
}

function addTutorMessage() {
  const text = el("p", { class: "msg-text" });
  const li = el("li", { class: "msg msg-tutor streaming", "aria-busy": "true", dataset: { tokens: "0" } },
    el("p", { class: "msg-who" }, "Tutor"), text);
  $("chat-log").append(li);
  return { li, text };
}

function finishTutorMessage(bubble, result, { announce = true } = {}) {
  const move = MOVES[result.move] || null;
  bubble.text.textContent = result.reply;
  bubble.li.classList.remove("streaming");
  bubble.li.removeAttribute("aria-busy");
  if (move) {
    bubble.li.classList.add(move.cls);
    bubble.li.dataset.move = result.move;
    bubble.li.querySelector(".msg-who").append(" ", el("span", { class: "badge" }, move.label));
  }
  if (announce) $("announcer").textContent = `Tutor${move ? ` (${move.label})` : ""}: ${result.reply}`;
}

function setQuestion(question) {
  const card = $("tutor-question");
  if (question && question.question) {
    $("tutor-question-text").textContent = question.question;
    card.hidden = false;
    $("message-label").textContent = "Your answer (or ask for help)";
  } else {
    card.hidden = true;
    $("message-label").textContent = "Message your tutor";
  }
}

function markGraded(li, graded) {
  if (!graded) return;
  // a greeting, a question back or a feeling is talk, not an answer: no mark
  if (graded.verdict === "not_an_answer" && ["greeting", "question", "feeling", "no_attempt", "empty"].includes(graded.reason)) return;
  li.classList.add(graded.correct ? "answer-right" : "answer-not-yet");
  li.querySelector(".msg-who").append(" ",
    el("span", { class: "badge" }, graded.correct ? "Correct!" : "Not quite yet"));
}

function updateChips() {
  // "I'm ready!" only makes sense before the conversation starts.
  const started = !!document.querySelector("#chat-log .msg-student") || !$("tutor-question").hidden;
  document.querySelector('.chip[data-start]').hidden = started;
}

function scrollChat() {
  const log = $("chat-log");
  log.scrollTop = log.scrollHeight;
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("send").textContent = busy ? "Sending…" : "Send";
  for (const chip of document.querySelectorAll(".chip")) chip.disabled = busy;
}

async function send(raw) {
  const text = raw.trim();
  const error = $("chat-error");
  if (!text || state.busy || !state.session) return;
  error.hidden = true;
  setBusy(true);
  $("message").value = "";
  const mine = addStudentMessage(text);
  const bubble = addTutorMessage();
  scrollChat();
  let tokens = 0;
  let result = null;
  try {
    for await (const ev of state.api.stream(`/v1/sessions/${encodeURIComponent(state.session.id)}/messages`, { text })) {
      if (ev.event === "token") {
        tokens += 1;
        bubble.text.append(ev.data.text);
        bubble.li.dataset.tokens = String(tokens);
        scrollChat();
      } else if (ev.event === "done") {
        result = ev.data;
      } else if (ev.event === "error") {
        throw new ApiError(ev.data.status || 500, ev.data);
      }
    }
    if (!result) throw new ApiError(0, null);
    finishTutorMessage(bubble, result);
    markGraded(mine, result.grade_result);
    setQuestion(result.current_question);
    if (result.grade_result && state.boot.ags) {
      state.api.post("/v1/lti/score", {}).catch(() => {}); // best effort: the gradebook
    }
  } catch (err) {
    bubble.li.remove();
    mine.classList.add("msg-failed");
    $("message").value = text;
    error.textContent = err instanceof ApiError ? err.friendly() : "Something went wrong. Please try again.";
    error.hidden = false;
  } finally {
    setBusy(false);
    updateChips();
    scrollChat();
    $("message").focus();
  }
}

start();
