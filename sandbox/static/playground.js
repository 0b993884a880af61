/* The playground page: a Feishu-like chat with the bot, driven through the sandbox's /_playground/api/.
 * Everything the page shows comes from the sandbox (messages, cards, calls); clicks and messages go through the
 * real path (the sandbox signs and encrypts an event and posts it to the bot). No innerHTML anywhere.
 */
(function () {
  "use strict";

  const API = "/_playground/api/";
  const POLL_MESSAGES_MS = 400;
  const POLL_CALLS_MS = 800;
  const POLL_FAULTS_MS = 2000;
  const TOAST_MS = 3500;
  const MAX_CALL_ROWS = 300;
  // one of each kind and state: native (one step, two approvers, two steps and no attendance type, approved,
  // the manager's own), linked (acted on through its attendance record) and an attendance record alone
  const FEATURED = ["remedy_pending", "remedy_pending_2", "purchase_two_step", "remedy_approved", "own_request",
    "every_widget", "linked_remedy", "linked_leave", "record_remedy_pending", "record_leave_approved"];
  const PRESETS = [
    { label: "process slow 1.5 s", fault: { endpoint: "process", latency_s: 1.5 } },
    { label: "process slow 3 s (times out)", fault: { endpoint: "process", latency_s: 3 } },
    { label: "process → 1220600", fault: { endpoint: "process", code: 1220600, times: 1 } },
    { label: "process → HTTP 500", fault: { endpoint: "process", http_status: 500, times: 1 } },
    { label: "instance lookup → 1390009", fault: { endpoint: "instance_get", code: 1390009, times: 1 } },
    { label: "rate limited (99991400)", fault: { endpoint: "*", code: 99991400, times: 2 } },
  ];
  // Every control in both languages: the page starts in the bot's locale, the 中/EN button switches.
  const WORDS = {
    zh_cn: {
      bot: "机器人", ok: "确定", cancel: "取消", updated: "已编辑", reply: "回复", you_are: "当前身份", chats: "会话",
      unreachable: "无法连接沙箱，正在重试…", waiting: "正在等待机器人启动…", samples: "示例：", send: "发送",
      placeholder: "发送命令，例如 /approval 654D6ABA-3EC6-5AE3-BB73-EF9F1B9D7E45 — Enter 发送，Shift+Enter 换行",
      simulate: "飞书中的其他操作", definition: "审批定义", requester: "申请人", submit_new: "收到一条新提交",
      instance_code: "审批实例 Code", instance_hint: "新提交会显示其 Code", decide_approve: "在飞书中通过",
      decide_reject: "在飞书中拒绝", digest_now: "立即发送每日汇总", faults: "注入飞书故障", endpoint: "接口",
      latency: "延迟（秒）", code: "错误码", http_status: "HTTP 状态码", times: "次数", for_id: "仅限 ID",
      until_cleared: "直到清除", any: "任意", inject: "注入", clear_all: "全部清除", calls: "开放接口调用",
      p2p_sub: "单聊", group_sub: "群聊 · 需 @机器人", p2p_chat: "单聊", group_chat: "群聊", you: "你是",
      no_faults: "无故障：飞书行为正常。", submitted: "已提交：", decided: "已在飞书中处理：", digest_sent: "每日汇总已发送：{n} 张卡片", digest_sent_one: "每日汇总已发送：1 张卡片",
      not_number: "{field} 不是有效数字", lang: "EN", every_endpoint: "* （所有接口）",
      role_manager: "经理", role_manager2: "第二位经理", role_admin: "管理员", role_employee: "员工", role_stranger: "陌生人",
    },
    en_us: {
      bot: "Bot", ok: "Confirm", cancel: "Cancel", updated: "edited", reply: "Reply to", you_are: "You are",
      chats: "Chats", unreachable: "Sandbox unreachable — retrying…", waiting: "Waiting for the bot to start…",
      samples: "Samples:", send: "Send",
      placeholder: "Send a command, e.g. /approval 654D6ABA-3EC6-5AE3-BB73-EF9F1B9D7E45 — Enter to send, Shift+Enter for a new line",
      simulate: "Happens elsewhere in Feishu", definition: "Approval definition", requester: "Requester",
      submit_new: "New submission arrives", instance_code: "Instance code",
      instance_hint: "the code a submission shows", decide_approve: "Approved in Feishu",
      decide_reject: "Rejected in Feishu", digest_now: "Send the daily digest now", faults: "Inject Feishu faults",
      endpoint: "Endpoint", latency: "Latency (s)", code: "Error code", http_status: "HTTP status", times: "Times",
      for_id: "For id", until_cleared: "until cleared", any: "any", inject: "Inject", clear_all: "Clear all",
      calls: "Open API calls", p2p_sub: "One-to-one chat", group_sub: "Group · @mention the bot",
      p2p_chat: "One-to-one chat", group_chat: "Group chat", you: "you are", no_faults: "No faults: Feishu behaves.",
      submitted: "Submitted: ", decided: "Decided in Feishu: ", digest_sent: "Daily digest sent: {n} cards", digest_sent_one: "Daily digest sent: 1 card",
      not_number: "{field} is not a number", lang: "中文", every_endpoint: "* (every endpoint)",
      role_manager: "Manager", role_manager2: "Second manager", role_admin: "Admin", role_employee: "Employee",
      role_stranger: "Stranger",
    },
  };

  const S = {
    world: null, locale: "zh_cn", botReady: true, user: "manager", chat: "p2p", view: 0, since: 0, epoch: null, rendered: new Map(),
    callsSince: 0, callsEpoch: null, callRows: new Map(), sendFailures: new Map(),
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function words() { return WORDS[S.locale] || WORDS.zh_cn; }

  function applyTexts() {
    const w = words();
    for (const node of document.querySelectorAll("[data-t]")) if (w[node.dataset.t]) node.textContent = w[node.dataset.t];
    for (const node of document.querySelectorAll("[data-t-placeholder]")) {
      if (w[node.dataset.tPlaceholder]) node.placeholder = w[node.dataset.tPlaceholder];
    }
    $("lang").textContent = w.lang;
    document.documentElement.lang = S.locale === "en_us" ? "en" : "zh-CN";
  }

  function switchLocale() {
    S.locale = S.locale === "en_us" ? "zh_cn" : "en_us";
    applyTexts();
    switchView();  // cards and headers again, in the other language
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, init);
    let json = null;
    try { json = await response.json(); } catch (_err) { json = null; }
    if (!response.ok) {
      const err = new Error((json && json.error) || ("HTTP " + response.status));
      err.status = response.status;
      throw err;
    }
    return json;
  }

  // ---- polling ---------------------------------------------------------------------------------------------

  function poller(fn, ms) {
    let wake = null;
    (async () => {
      for (;;) {
        try {
          await fn();
          $("connection").hidden = true;
        } catch (err) {
          if (err && err.status === undefined) $("connection").hidden = false;
        }
        await new Promise((resolve) => { wake = resolve; setTimeout(resolve, ms); });
        wake = null;
      }
    })();
    return () => { if (wake) wake(); };
  }

  // ---- people and chats ------------------------------------------------------------------------------------

  function userByKey(key) { return S.world.users.find((u) => u.key === key); }
  function userByOpenId(id) { return S.world.users.find((u) => u.open_id === id); }
  function displayName(user) {
    if (!user) return "";
    return S.world.locale === "en_us" ? user.en_name : user.name;
  }
  function chatId() {
    if (S.chat === "group") return S.world.group.chat_id;
    return "oc_p2p_" + userByKey(S.user).open_id.replace(/^ou_/, "");
  }

  function avatar(name, key) {
    const node = el("div", "avatar avatar-" + (key || "user"), (name || "?").trim().slice(0, 1));
    return node;
  }

  function renderUsers() {
    const box = $("users");
    box.textContent = "";
    for (const user of S.world.users) {
      const button = el("button", "user" + (user.key === S.user ? " user-active" : ""));
      button.type = "button";
      button.dataset.user = user.key;
      button.setAttribute("role", "radio");
      button.setAttribute("aria-checked", user.key === S.user ? "true" : "false");
      button.appendChild(avatar(user.name, user.key));
      const label = el("span", "user-label");
      label.appendChild(el("span", "user-name", user.name + " · " + user.en_name));
      label.appendChild(el("span", "user-role", words()["role_" + user.key] || user.role));
      button.appendChild(label);
      button.addEventListener("click", () => selectUser(user.key));
      box.appendChild(button);
    }
  }

  function renderChats() {
    const box = $("chats");
    box.textContent = "";
    const entries = [
      { type: "p2p", title: S.world.bot.name, sub: words().p2p_sub, key: "bot" },
      { type: "group", title: S.world.group.name, sub: words().group_sub, key: "group" },
    ];
    for (const entry of entries) {
      const button = el("button", "chat-entry" + (entry.type === S.chat ? " chat-active" : ""));
      button.type = "button";
      button.dataset.chat = entry.type;
      button.setAttribute("role", "tab");
      button.setAttribute("aria-selected", entry.type === S.chat ? "true" : "false");
      button.appendChild(avatar(entry.type === "group" ? "群" : "A", entry.key));
      const label = el("span", "chat-entry-label");
      label.appendChild(el("span", "chat-entry-title", entry.title));
      label.appendChild(el("span", "chat-entry-sub", entry.sub));
      button.appendChild(label);
      button.addEventListener("click", () => selectChat(entry.type));
      box.appendChild(button);
    }
  }

  function renderHeader() {
    const user = userByKey(S.user);
    const group = S.chat === "group";
    $("chat-title").textContent = group ? S.world.group.name : S.world.bot.name;
    $("chat-avatar").textContent = group ? "群" : "A";
    $("chat-avatar").className = "avatar " + (group ? "avatar-group" : "avatar-bot");
    $("chat-subtitle").textContent = (group ? words().group_chat : words().p2p_chat) + " · " + words().you + " " +
      user.name + " (" + user.en_name + ", " + (words()["role_" + user.key] || user.role) + ")";
    $("mention-label").hidden = !group;
  }

  function renderSamples() {
    const box = $("samples");
    box.textContent = "";
    const chip = (label, text, title) => {
      const button = el("button", "chip", label);
      button.type = "button";
      if (title) button.title = title;
      button.addEventListener("click", () => {
        const input = $("composer-input");
        input.value = text;
        input.focus();
      });
      box.appendChild(button);
    };
    chip("/help", "/help");
    chip("/pending", "/pending");
    for (const name of FEATURED) {
      if (S.world.samples[name]) chip(name, "/approval " + S.world.samples[name], S.world.samples[name]);
    }
    const select = el("select", "chip-select");
    select.appendChild(new Option("more samples…", ""));
    for (const [name, id] of Object.entries(S.world.samples)) select.appendChild(new Option(name + " · " + id, id));
    select.addEventListener("change", () => {
      if (!select.value) return;
      $("composer-input").value = "/approval " + select.value;
      select.value = "";
      $("composer-input").focus();
    });
    box.appendChild(select);
  }

  function saveHash() { history.replaceState(null, "", "#user=" + S.user + "&chat=" + S.chat); }

  function loadHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("user") && S.world.users.some((u) => u.key === params.get("user"))) S.user = params.get("user");
    if (params.get("chat") === "group" || params.get("chat") === "p2p") S.chat = params.get("chat");
  }

  function selectUser(key) {
    if (!userByKey(key) || key === S.user) return;
    S.user = key;
    switchView();
  }

  function selectChat(type) {
    if (type === S.chat) return;
    S.chat = type;
    switchView();
  }

  function switchView() {
    S.view += 1;
    S.since = 0;
    S.rendered.clear();
    $("messages").textContent = "";
    renderUsers();
    renderChats();
    renderHeader();
    saveHash();
    kickMessages();
  }

  // ---- messages --------------------------------------------------------------------------------------------

  function clock(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function textWithMentions(text, mentions) {
    const frag = document.createDocumentFragment();
    const parts = String(text).split(/(@_user_\d+|@_all)/);
    for (const part of parts) {
      if (!part) continue;
      if (part === "@_all") frag.appendChild(el("span", "fc-at", "@所有人"));
      else if (/^@_user_\d+$/.test(part)) frag.appendChild(el("span", "fc-at", "@" + (mentions[part] || part)));
      else frag.appendChild(document.createTextNode(part));
    }
    return frag;
  }

  function previewText(m) {
    return String(m.parent_preview || "").replace(/@_user_\d+\s*/g, "@" + S.world.bot.name + " ");
  }

  function cardOptions(m) {
    return {
      locale: S.locale,
      userName: (id) => { const u = userByOpenId(id); return u ? displayName(u) : null; },
      confirm: confirmDialog,
      openUrl: (url) => window.open(url, "_blank", "noopener,noreferrer"),
      onAction: (action) => click(m, action),
    };
  }

  function renderMessage(m) {
    const own = !m.from_bot && m.sender.open_id === userByKey(S.user).open_id;
    const row = el("div", "msg " + (m.from_bot ? "msg-bot" : own ? "msg-own" : "msg-other"));
    row.dataset.messageId = m.message_id;
    row.dataset.version = String(m.version);
    row.dataset.via = m.via;
    const sender = m.from_bot ? null : userByOpenId(m.sender.open_id);
    row.appendChild(m.from_bot ? avatar("A", "bot") : avatar(m.sender.name, sender ? sender.key : "user"));
    const main = el("div", "msg-main");
    const meta = el("div", "msg-meta");
    meta.appendChild(el("span", "msg-name", m.from_bot ? m.sender.name : (sender ? displayName(sender) : m.sender.name)));
    if (m.from_bot) meta.appendChild(el("span", "bot-tag", words().bot));
    meta.appendChild(el("span", "msg-time", clock(m.create_time)));
    if (m.version > 1) meta.appendChild(el("span", "msg-updated", words().updated + " · " + m.via));
    main.appendChild(meta);
    if (m.parent_id && m.parent_preview) {
      main.appendChild(el("div", "msg-quote", words().reply + " " + m.parent_sender + ": " + previewText(m)));
    }
    let bubble;
    if (m.deleted) {
      bubble = el("div", "msg-bubble msg-recalled", "This message was recalled");
    } else if (m.msg_type === "interactive") {
      bubble = el("div", "msg-card");
      bubble.appendChild(window.FeishuCard.render(m.content, cardOptions(m)));
    } else if (m.msg_type === "text" && m.content && typeof m.content.text === "string") {
      bubble = el("div", "msg-bubble");
      bubble.appendChild(textWithMentions(m.content.text, m.mentions || {}));
    } else {
      bubble = el("div", "msg-bubble msg-other-type", "[" + m.msg_type + "] " + JSON.stringify(m.content));
    }
    main.appendChild(bubble);
    const failure = S.sendFailures.get(m.message_id);
    if (failure) main.appendChild(el("div", "msg-failure", failure));
    row.appendChild(main);
    return row;
  }

  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 80; }

  function upsert(m) {
    const known = S.rendered.get(m.message_id);
    if (known && known.version === m.version && known.deleted === m.deleted) return false;
    const node = renderMessage(m);
    if (known) known.node.replaceWith(node);
    else $("messages").appendChild(node);
    S.rendered.set(m.message_id, { version: m.version, deleted: m.deleted, node, data: m });
    return !known;
  }

  async function pollMessages() {
    if (!S.world) return;
    const view = S.view;
    const answer = await api("GET", "messages?chat=" + encodeURIComponent(chatId()) + "&since=" + S.since);
    if (view !== S.view) return;
    if (S.epoch !== null && answer.epoch !== S.epoch) {
      S.epoch = answer.epoch;
      switchView();
      return;
    }
    S.epoch = answer.epoch;
    const box = $("messages");
    const stick = nearBottom(box);
    let added = false;
    for (const m of answer.messages) added = upsert(m) || added;
    S.since = answer.cursor;
    if (added && stick) box.scrollTop = box.scrollHeight;
  }

  // Messages leave in the order typed, one at a time (the next waits for the bot to take the previous one).
  const outbox = [];
  let sending = false;

  function send(event) {
    if (event) event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    outbox.push({ user: S.user, chat: S.chat, text, mention_bot: $("mention").checked });
    drain();
  }

  async function drain() {
    if (sending || !S.botReady) return;
    sending = true;
    try {
      while (outbox.length) await deliver(outbox.shift());
    } finally {
      sending = false;
    }
  }

  function markFailed(messageId, why) {
    S.sendFailures.set(messageId, "Not delivered: " + why);
    const known = S.rendered.get(messageId);
    if (known) {
      const node = renderMessage(known.data);
      known.node.replaceWith(node);
      known.node = node;
    }
  }

  async function deliver(item) {
    try {
      const answer = await api("POST", "send", item);
      if (answer.status !== 200) {
        const why = answer.status ? "the bot answered HTTP " + answer.status : "the bot did not answer";
        markFailed(answer.message_id, why);
        toast("error", "Message not delivered: " + why);
      }
    } catch (err) {
      toast("error", "Could not send: " + err.message);
      const input = $("composer-input");
      if (!input.value) input.value = item.text;
    } finally {
      kickMessages();
      kickCalls();
    }
  }

  async function click(m, action) {
    try {
      const answer = await api("POST", "click", { user: S.user, message_id: m.message_id, version: m.version,
        path: action.path, form_value: action.formValue, locale: S.locale });
      if (answer.toast && answer.toast.content) toast(answer.toast.type, answer.toast.content);
      else if (answer.status !== 200) toast("error", "The bot answered HTTP " + answer.status);
    } catch (err) {
      toast("error", "Click failed: " + err.message);
    } finally {
      kickMessages();
      kickCalls();
    }
  }

  // ---- toasts and the confirm dialog -----------------------------------------------------------------------

  const TOAST_ICONS = { success: "✓", error: "✕", warning: "!", info: "i" };

  function toast(type, content) {
    const kind = TOAST_ICONS[type] ? type : "info";
    const node = el("div", "toast toast-" + kind);
    node.dataset.type = kind;
    node.setAttribute("role", "status");
    node.appendChild(el("span", "toast-icon", TOAST_ICONS[kind]));
    node.appendChild(el("span", "toast-text", content));
    $("toasts").appendChild(node);
    setTimeout(() => node.classList.add("toast-leaving"), TOAST_MS);
    setTimeout(() => node.remove(), TOAST_MS + 300);
  }

  function confirmDialog(spec) {
    const modal = $("modal");
    $("modal-title").textContent = spec.title || "";
    $("modal-text").textContent = spec.text || "";
    $("modal-ok").textContent = words().ok;
    $("modal-cancel").textContent = words().cancel;
    modal.hidden = false;
    $("modal-ok").focus();
    return new Promise((resolve) => {
      const done = (value) => {
        modal.hidden = true;
        $("modal-ok").removeEventListener("click", onOk);
        $("modal-cancel").removeEventListener("click", onCancel);
        document.removeEventListener("keydown", onKey);
        resolve(value);
      };
      const onOk = () => done(true);
      const onCancel = () => done(false);
      const onKey = (event) => { if (event.key === "Escape") done(false); };
      $("modal-ok").addEventListener("click", onOk);
      $("modal-cancel").addEventListener("click", onCancel);
      document.addEventListener("keydown", onKey);
    });
  }

  // ---- the Open API call log -------------------------------------------------------------------------------

  function pretty(value) {
    if (value === null || value === undefined) return "—";
    const copy = JSON.parse(JSON.stringify(value));
    if (copy && typeof copy === "object" && typeof copy.content === "string") {
      try { copy.content = JSON.parse(copy.content); } catch (_err) { /* plain text content */ }
    }
    return JSON.stringify(copy, null, 2);
  }

  function callTime(seconds) {
    const d = new Date(seconds * 1000);
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function renderCall(call) {
    const state = call.outcome === "pending" ? "pending" : call.outcome === "ok" ? "ok" : "error";
    const row = el("li", "call call-" + state);
    row.dataset.index = String(call.index);
    row.dataset.endpoint = call.endpoint;
    row.dataset.outcome = call.outcome;
    const line = el("button", "call-line");
    line.type = "button";
    line.appendChild(el("span", "call-time", callTime(call.time)));
    line.appendChild(el("span", "call-method call-method-" + call.method.toLowerCase(), call.method));
    const path = el("span", "call-path", call.path.replace(/^\/open-apis/, ""));
    path.title = call.path;
    line.appendChild(path);
    let status = call.outcome === "pending" ? "…" : call.status === null ? call.outcome : String(call.status);
    if (call.code !== null && call.code !== undefined && call.code !== 0) status += " · " + call.code;
    line.appendChild(el("span", "call-status", status));
    if (call.duration_s !== null) line.appendChild(el("span", "call-ms", Math.round(call.duration_s * 1000) + " ms"));
    if (call.fault) line.appendChild(el("span", "call-fault", "fault"));
    row.appendChild(line);
    const details = el("div", "call-details");
    details.hidden = true;
    const section = (title, value) => {
      details.appendChild(el("div", "call-details-title", title));
      details.appendChild(el("pre", "call-json", pretty(value)));
    };
    if (call.query && Object.keys(call.query).length) section("Query", call.query);
    section("Body", call.body);
    section("Answer" + (call.log_id ? " · log id " + call.log_id : ""), call.answer);
    if (call.fault) section("Injected fault", call.fault);
    row.appendChild(details);
    line.addEventListener("click", () => { details.hidden = !details.hidden; row.classList.toggle("call-open"); });
    return row;
  }

  async function pollCalls() {
    const answer = await api("GET", "calls?since=" + S.callsSince);
    const list = $("calls");
    if (S.callsEpoch !== null && answer.epoch !== S.callsEpoch) {
      list.textContent = "";
      S.callRows.clear();
      S.callsSince = 0;
      S.callsEpoch = answer.epoch;
      return pollCalls();
    }
    S.callsEpoch = answer.epoch;
    let firstPending = null;
    for (const call of answer.calls) {
      const known = S.callRows.get(call.index);
      if (call.outcome === "pending" && firstPending === null) firstPending = call.index;
      if (known && known.outcome === call.outcome) continue;
      const row = renderCall(call);
      if (known) {
        const open = known.node.classList.contains("call-open");
        known.node.replaceWith(row);
        if (open) row.querySelector(".call-line").click();
      } else {
        list.insertBefore(row, list.firstChild);
      }
      S.callRows.set(call.index, { outcome: call.outcome, node: row });
    }
    const fetched = answer.calls.length ? answer.calls[answer.calls.length - 1].index + 1 : S.callsSince;
    S.callsSince = firstPending !== null ? firstPending : fetched;
    while (list.children.length > MAX_CALL_ROWS) {
      const last = list.lastChild;
      S.callRows.delete(Number(last.dataset.index));
      last.remove();
    }
    $("calls-count").textContent = String(answer.total);
  }

  // ---- faults ----------------------------------------------------------------------------------------------

  function describeFault(f) {
    const parts = [f.endpoint];
    if (f.id) parts.push("id " + f.id);
    if (f.latency_s) parts.push("+" + f.latency_s + " s");
    if (f.code) parts.push("code " + f.code);
    if (f.http_status) parts.push("HTTP " + f.http_status);
    if (f.drop) parts.push("drop");
    parts.push(f.times === null || f.times === undefined ? "until cleared" : f.times + " left");
    parts.push(f.hits + " hit" + (f.hits === 1 ? "" : "s"));
    return parts.join(" · ");
  }

  async function pollFaults() {
    const answer = await api("GET", "faults");
    const list = $("faults");
    list.textContent = "";
    for (const f of answer.faults) list.appendChild(el("li", "fault", describeFault(f)));
    if (!answer.faults.length) list.appendChild(el("li", "fault fault-none", words().no_faults));
  }

  async function injectFault(spec) {
    $("fault-error").textContent = "";
    try {
      await api("POST", "faults", spec);
    } catch (err) {
      $("fault-error").textContent = err.message;
    }
    await pollFaults().catch(() => {});
  }

  function setupFaults() {
    const select = $("fault-endpoint");
    for (const name of ["*", ...S.world.endpoints]) select.appendChild(new Option(name === "*" ? words().every_endpoint : name, name));
    select.value = "process";
    $("fault-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const spec = { endpoint: select.value };
      for (const [id, key, label] of [["fault-latency", "latency_s", "latency"], ["fault-code", "code", "code"],
        ["fault-status", "http_status", "http_status"], ["fault-times", "times", "times"], ["fault-id", "id", "for_id"]]) {
        const input = $(id);
        if (input.validity && input.validity.badInput) {  // the browser would send "": say so, never drop it
          $("fault-error").textContent = words().not_number.replace("{field}", words()[label]);
          return;
        }
        const value = input.value.trim();
        if (value) spec[key] = key === "id" ? value : Number(value);  // the server checks ranges and kinds
      }
      injectFault(spec);
    });
    $("fault-clear").addEventListener("click", async () => {
      await api("DELETE", "faults").catch((err) => toast("error", err.message));
      $("fault-error").textContent = "";
      pollFaults().catch(() => {});
    });
    const box = $("fault-presets");
    for (const preset of PRESETS) {
      const button = el("button", "chip", preset.label);
      button.type = "button";
      button.addEventListener("click", () => injectFault(preset.fault));
      box.appendChild(button);
    }
  }

  // ---- what happens elsewhere in Feishu -------------------------------------------------------------------

  function simResult(text, failed) {
    const box = $("sim-result");
    box.textContent = text;
    box.classList.toggle("sim-error", Boolean(failed));
  }

  async function simulate(path, body, describe) {
    try {
      simResult(describe(await api("POST", path, body)), false);
    } catch (err) {
      simResult(err.message, true);
    } finally {
      kickMessages();
      kickCalls();
    }
  }

  function setupSimulate() {
    const definitions = $("submit-definition");
    for (const name of S.world.definitions || []) definitions.appendChild(new Option(name, name));
    const requester = $("submit-requester");
    for (const user of S.world.users) requester.appendChild(new Option(user.name + " · " + user.en_name, user.key));
    requester.value = "employee";
    $("submit-form").addEventListener("submit", (event) => {
      event.preventDefault();
      simulate("submit", { definition: definitions.value, requester: requester.value }, (answer) => {
        $("decide-code").value = answer.instance_code;
        return words().submitted + answer.instance_code;
      });
    });
    for (const action of ["approve", "reject"]) {
      $("decide-" + action).addEventListener("click", () => simulate("decide",
        { instance_code: $("decide-code").value.trim(), action },
        (answer) => words().decided + answer.instance_code + " → " + answer.status));
    }
    $("digest-now").hidden = !S.world.digest;
    $("digest-now").addEventListener("click", () => simulate("digest", {},
      (answer) => (answer.sent === 1 ? words().digest_sent_one : words().digest_sent.replace("{n}", answer.sent))));
  }

  function showBot(url) {
    $("bot-line").textContent = url ? "Feishu sandbox → bot " + url + "/webhook/event · every event signed and " +
      "encrypted" : "Waiting for the bot…";
  }

  // The sandbox serves the page a moment before the bot is attached (the bot loads lark-oapi meanwhile).
  async function waitForBot() {
    S.botReady = false;
    $("waiting").hidden = false;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      try {
        const world = await api("GET", "world");
        if (world.attached) {
          showBot(world.bot_url);
          break;
        }
      } catch (_err) { /* the sandbox is not up yet either */ }
    }
    $("waiting").hidden = true;
    S.botReady = true;
    drain();
  }

  // ---- start -----------------------------------------------------------------------------------------------

  let kickMessages = () => {};
  let kickCalls = () => {};

  async function start() {
    try {
      S.world = await api("GET", "world");
    } catch (err) {
      $("connection").hidden = false;
      setTimeout(start, 1000);
      return;
    }
    S.locale = S.world.locale === "en_us" ? "en_us" : "zh_cn";
    applyTexts();
    $("lang").addEventListener("click", switchLocale);
    loadHash();
    renderUsers();
    renderChats();
    renderHeader();
    renderSamples();
    setupFaults();
    setupSimulate();
    $("composer-form").addEventListener("submit", send);
    $("composer-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
    });
    showBot(S.world.bot_url);
    if (!S.world.attached) waitForBot();
    kickMessages = poller(pollMessages, POLL_MESSAGES_MS);
    kickCalls = poller(pollCalls, POLL_CALLS_MS);
    poller(pollFaults, POLL_FAULTS_MS);
    document.body.dataset.ready = "1";
  }

  window.Playground = { toast, confirm: confirmDialog };
  document.addEventListener("DOMContentLoaded", start);
})();
